"""Deterministic orchestrators: the story of a run."""
