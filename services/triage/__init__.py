"""Triage: validity, duplicates, incidents and an explainable priority for every complaint received."""
