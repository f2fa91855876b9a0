"""soraflow's Python client and `soraflow` CLI: talks to a soraflow app over its HTTP API, nothing else."""

from soraflow_client.client import FINAL_STATUSES, ApiError, AppUnreachable, Client, FieldError, Run

__all__ = ["FINAL_STATUSES", "ApiError", "AppUnreachable", "Client", "FieldError", "Run"]
