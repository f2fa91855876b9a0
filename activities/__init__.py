"""Thin activity adapters over soraflow operations."""
