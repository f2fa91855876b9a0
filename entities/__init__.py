"""Durable entities (the provider quota gate)."""
