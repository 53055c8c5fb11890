"""Drills (情景模拟/演练): a reproducible surge fed through the public API, with simulated staff."""
