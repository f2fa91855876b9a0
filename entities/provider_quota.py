"""The provider quota gate: one Durable entity per provider resource, admitting runs into the provider in order.

A thin adapter over `soraflow.quota.QuotaGate`. Operations (each input carries `run_id` and `now`, the caller's
replay-safe clock in epoch seconds; the entity never reads a clock):

- `acquire` {run_id, now, limits} -> {granted, position, lease_expires, admitted}
- `renew` {run_id, now} -> {granted, position, lease_expires, admitted}
- `release` {run_id, now} -> {released: whether the run held a slot or a place in line, admitted}

`admitted` lists the other runs the operation let in: a Python entity cannot raise an event on an orchestration,
so the caller wakes them (the `wake_waiting_runs` activity).
"""

from __future__ import annotations

import azure.durable_functions as df

from soraflow.quota import QuotaGate, QuotaLimits

bp = df.Blueprint()

ENTITY_NAME = "provider_quota"


@bp.entity_trigger(context_name="context", entity_name=ENTITY_NAME)
def provider_quota(context: df.DurableEntityContext) -> None:
    """Apply one operation to the gate's state and answer the caller."""
    gate = QuotaGate.from_dict(context.get_state(dict, expected_type=dict))
    operation = context.operation_name
    payload = context.get_input(expected_type=dict)
    if not isinstance(payload, dict):
        raise ValueError(f"{operation}: the input must be an object, got {type(payload).__name__}")
    now = payload.get("now")
    if operation == "acquire":
        limits = QuotaLimits.from_dict(payload["limits"]) if "limits" in payload else None
        result = gate.acquire(payload.get("run_id"), now, limits).to_dict()
    elif operation == "renew":
        result = gate.renew(payload.get("run_id"), now).to_dict()
    elif operation == "release":
        result = gate.release(payload.get("run_id"), now).to_dict()
    else:
        raise ValueError(f"unknown operation {operation!r}; the gate knows acquire, renew and release")
    context.set_state(gate.to_dict())
    context.set_result(result)
