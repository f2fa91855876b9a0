"""HTTP API and blob-upload starters (durable client functions)."""
