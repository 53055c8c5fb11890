"""Notices: progress summaries, the redaction guard, CAP 1.2 and Atom renderings."""
