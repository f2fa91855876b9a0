"""A local Sora server: the videos API (Sora 2) and the jobs API (Sora 1) with real media, faults and a request log."""
