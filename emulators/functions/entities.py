"""Function-based entities: queued operations run in order, one batch per entity at a time, state in SQLite.

The batch JSON is what the SDK's `Entity.create(...)` handle reads (`DurableEntityContext.from_json`):
`{"self": {"name", "key"}, "state": <JSON text or null>, "exists", "batch": [{"name", "input"}]}` where each
`input` is a JSON string holding the operation's JSON text (the handle decodes it twice).
"""

from __future__ import annotations

import json
import logging
import time

from azure.functions import meta
from azure.functions.durable_functions import EnitityTriggerConverter

from emulators.functions import invocation
from emulators.functions.application import FunctionApp
from emulators.functions.orchestrations import EVENT_RAISED, Wakers, timestamp
from emulators.functions.store import DurableStore, EntityOp

log = logging.getLogger("host")

BATCH_LIMIT = 100


def entity_id_of(name: str, key: str) -> str:
    """The scheduler id the SDK uses: `@<lowercased name>@<key>`."""
    return f"@{name.lower()}@{key}"


def split_entity_id(entity_id: str) -> tuple[str, str]:
    """(name, key) of `@name@key`; ValueError for anything else."""
    if not entity_id.startswith("@") or entity_id.count("@") < 2:
        raise ValueError(f"{entity_id!r} is not an entity id of the form @name@key")
    name, key = entity_id[1:].split("@", 1)
    if not name or not key:
        raise ValueError(f"{entity_id!r} is not an entity id of the form @name@key")
    return name, key


class Entities:
    """Runs an entity's queued operations through its handle and answers callers."""

    def __init__(self, app: FunctionApp, store: DurableStore, wakers: Wakers) -> None:
        self.app = app
        self.store = store
        self.wakers = wakers

    def run_batch(self, entity_id: str) -> bool:
        """Run the next operations of one entity; True when more are queued."""
        state, exists, ops = self.store.entity_batch(entity_id, BATCH_LIMIT)
        if not ops:
            return False
        name, key = split_entity_id(entity_id)
        spec = self.app.find("entityTrigger", name)
        now = time.time()
        if spec is None:
            known = ", ".join(self.app.names_of_type("entityTrigger")) or "none"
            message = (
                f"The function '{name}' doesn't exist, is disabled, or is not an entity function (known: {known})."
            )
            log.error("Entity %s: %s", entity_id, message)
            results = [{"isError": True, "result": json.dumps(message)} for _ in ops]
        else:
            context = {
                "self": {"name": name, "key": key},
                "state": state,
                "exists": exists,
                "batch": [{"name": op.operation, "input": json.dumps(op.input or "null")} for op in ops],
            }
            body = meta.Datum(type="json", value=json.dumps(context))
            entity_context = EnitityTriggerConverter.decode(body, trigger_metadata=None)
            try:
                text = invocation.invoke_sync(spec.name, lambda: spec.callable(entity_context))
                outcome = json.loads(text)
                results = outcome.get("results") or []
                exists = bool(outcome.get("entityExists"))
                state = outcome.get("entityState") if exists else None
            except Exception as exc:
                # The whole batch failed inside the SDK: the state stays as it was, every caller hears why.
                log.exception("Entity %s: the batch failed", entity_id)
                results = [{"isError": True, "result": json.dumps(f"{type(exc).__name__}: {exc}")} for _ in ops]
        responses = [self._response(op, result, now) for op, result in zip(ops, results, strict=False) if op.request_id]
        self.store.commit_entity_batch(
            entity_id, state, exists, [op.id for op in ops], responses, now=now, now_text=timestamp(now)
        )
        for instance_id, _, _ in responses:
            self.wakers.instance(instance_id)
        return len(ops) == BATCH_LIMIT

    @staticmethod
    def _response(op: EntityOp, result: dict, now: float) -> tuple[str, str | None, dict]:
        message = {"result": result.get("result") or "null"}
        if result.get("isError"):
            message["exceptionType"] = "Exception"
        event = {
            "EventType": EVENT_RAISED,
            "EventId": -1,
            "Timestamp": timestamp(now),
            "Name": op.request_id,
            "Input": json.dumps(message),
        }
        return op.caller_instance_id, op.caller_execution_id, event
