"""A local fal.ai queue server (submit, status with logs, result, cancel, CDN media, signed webhooks)."""
