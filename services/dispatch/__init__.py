"""Dispatch: routing, immediate escalation and the deadline watcher."""
