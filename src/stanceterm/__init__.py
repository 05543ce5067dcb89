"""stanceterm: annotate claims and actor stances in news text."""

__version__ = "0.1.0"
