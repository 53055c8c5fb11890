"""What the public is shown, as pure functions: the personal-data guard, CAP 1.2 alerts, the Atom feed.

They live in `events/` (no I/O) because more than one process needs them: the notices worker drafts and checks
text, the API refuses to publish text that carries personal data and serves the CAP and Atom documents.
"""
