"""stanceterm terminal UI (Textual)."""
