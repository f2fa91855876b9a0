"""The run resource clients see (GET /api/videos/{id}), composed from the orchestration's durable status and the
run's view (`soraflow.run_view`): its custom status while it runs, its output once it ended."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from soraflow.run_view import QUEUE_STAGES
from soraflow.runs import RunStatus

# Durable runtime statuses that end an instance without our orchestrator writing its own final status.
_RUNTIME_FINAL = {"Terminated": RunStatus.CANCELLED, "Failed": RunStatus.FAILED, "Canceled": RunStatus.CANCELLED}


def build_run_resource(
    instance: Mapping[str, Any],
    *,
    content_url: Callable[[dict], str] | None = None,
) -> dict:
    """Compose the run resource from a durable status (`instanceId`, `runtimeStatus`, `input`, `customStatus`,
    `output`, `createdTime`, `lastUpdatedTime`), as the Durable client returns it."""
    run_input = instance.get("input") or {}
    custom = instance.get("customStatus") or {}
    output = instance.get("output") if isinstance(instance.get("output"), dict) else None
    latest = output or custom
    runtime = instance.get("runtimeStatus") or "Pending"
    status = _status(runtime, latest)
    outputs = [
        {**item, "url": content_url(item)} if content_url else dict(item) for item in latest.get("outputs") or []
    ]
    error = latest.get("error")
    if runtime == "Failed" and not error:
        error = {
            "code": "internal_error",
            "message": _first_line(instance.get("output")) or "the orchestration failed",
            "retryable": False,
            "provider_code": None,
        }
    elif runtime in ("Terminated", "Canceled") and not error:
        error = {"code": "cancelled", "message": "the run was terminated", "retryable": False, "provider_code": None}
    resource = {
        "id": instance.get("instanceId") or run_input.get("run_id"),
        "status": status,
        "progress": 100 if status == RunStatus.COMPLETED else int(latest.get("progress") or 0),
        "queue_position": latest.get("queue_position") if status in QUEUE_STAGES else None,
        "request": run_input.get("request"),
        "provider": latest.get("provider"),
        "outputs": outputs,
        "error": error if status in (RunStatus.FAILED, RunStatus.CANCELLED) else None,
        "remix_error": latest.get("remix_error"),
        "delete_error": latest.get("delete_error"),
        "cost": run_input.get("cost"),
        # The trigger's stamp first: the run index keys rows on it, so the list and GET /videos/{id} agree.
        "created_at": run_input.get("created_at") or _iso(instance.get("createdTime")),
        "updated_at": latest.get("updated_at") or _iso(instance.get("lastUpdatedTime")),
        "completed_at": latest.get("completed_at") if status.is_final else None,
    }
    if runtime == "Suspended":
        resource["suspended"] = True
    if latest.get("note") and not status.is_final:
        resource["note"] = latest["note"]
    return resource


def _status(runtime: str, latest: Mapping[str, Any]) -> RunStatus:
    try:
        stage = RunStatus(latest.get("status") or RunStatus.QUEUED)
    except ValueError:
        stage = RunStatus.QUEUED
    if runtime in _RUNTIME_FINAL and not stage.is_final:
        return _RUNTIME_FINAL[runtime]
    return stage


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _first_line(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().splitlines()[0][:500]
