"""Activity over the quota gate's queue: wake the runs the gate just admitted, by an event on each orchestration.

A Python entity cannot raise an event on an orchestration, so the run whose operation admitted a waiter (usually
the one that released a slot) raises it through this activity's durable client.
"""

from __future__ import annotations

import logging

import azure.durable_functions as df

bp = df.Blueprint()
log = logging.getLogger("soraflow.activities")

WAKE_WAITING_RUNS = "wake_waiting_runs"
# Raised on a run waiting for capacity: the gate has given it a slot, ask again now. Only a hint: the run confirms
# with the gate, so a duplicate or late one costs one question and changes nothing.
CAPACITY_GRANTED_EVENT = "capacity_granted"


@bp.function_name(WAKE_WAITING_RUNS)
@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def wake_waiting_runs(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    """Raise `capacity_granted` on each of `payload["run_ids"]`; returns which were woken and which were not."""
    woken, missed = [], []
    for run_id in payload["run_ids"]:
        try:
            await client.raise_event(run_id, CAPACITY_GRANTED_EVENT, {"by": payload.get("by")})
            woken.append(run_id)
        except Exception as failure:
            # 404/410: the run has ended or is gone (its slot lapses with its lease). Otherwise its fallback timer
            # asks the gate again soon; a wake-up is never worth failing the releasing run for.
            log.warning("run %s: not woken for its slot: %s", run_id, failure)
            missed.append({"run_id": run_id, "error": str(failure)})
    return {"woken": woken, "missed": missed}
