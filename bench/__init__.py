"""Reproducible performance figures for alertrelay: `python -m bench.run` (see the README)."""
