"""The quota gate entity through the Durable SDK's own entity handle: batches, state in JSON, errors per operation."""

from __future__ import annotations

import json

import azure.durable_functions as df
import pytest

from entities import provider_quota

LIMITS = {"concurrent": 1, "per_minute": None, "lease_seconds": 10.0}


@pytest.fixture(scope="module")
def handle():
    app = df.DFApp()
    app.register_functions(provider_quota.bp)
    (function,) = app.get_functions()
    assert function.get_bindings()[0].type == "entityTrigger"
    return function.get_user_function()


def run_batch(handle, state: dict | None, *operations: tuple[str, object]) -> tuple[dict | None, list]:
    """One batch as the extension sends it (each input is JSON text, encoded again); returns (state, results)."""
    batch = [{"name": name, "input": json.dumps(json.dumps(payload))} for name, payload in operations]
    context = {
        "self": {"name": provider_quota.ENTITY_NAME, "key": "qtest"},
        "state": None if state is None else json.dumps(state),
        "exists": state is not None,
        "batch": batch,
    }
    outcome = json.loads(handle(json.dumps(context)))
    results = [
        ("error", json.loads(r["result"])) if r["isError"] else json.loads(r["result"]) for r in outcome["results"]
    ]
    return json.loads(outcome["entityState"]), results


def test_acquire_renew_release_across_batches(handle):
    state, results = run_batch(
        handle,
        None,
        ("acquire", {"run_id": "run-a", "now": 100.0, "limits": LIMITS}),
        ("acquire", {"run_id": "run-b", "now": 101.0, "limits": LIMITS}),
    )
    assert results == [
        {"granted": True, "position": None, "lease_expires": 110.0, "admitted": []},
        {"granted": False, "position": 1, "lease_expires": None, "admitted": []},
    ]
    state, results = run_batch(
        handle,
        state,
        ("renew", {"run_id": "run-a", "now": 105.0}),
        ("release", {"run_id": "run-a", "now": 106.0}),
        ("release", {"run_id": "run-a", "now": 106.5}),
        ("acquire", {"run_id": "run-b", "now": 107.0}),
    )
    assert results[0]["lease_expires"] == 115.0
    assert results[1:3] == [{"released": True, "admitted": ["run-b"]}, {"released": False, "admitted": []}]
    assert results[3] == {"granted": True, "position": None, "lease_expires": 117.0, "admitted": []}
    assert state["holders"] == {"run-b": 117.0}
    assert state["limits"] == LIMITS


@pytest.mark.parametrize(
    ("operation", "payload", "message"),
    [
        ("acquire", {"run_id": "run-x", "now": "later"}, "now must be epoch seconds"),
        ("acquire", {"run_id": 7, "now": 100.0}, "run_id must be"),
        ("acquire", {"run_id": "run-x", "now": 100.0, "limits": {"concurrent": -1}}, "limits.concurrent"),
        ("release", {"now": 100.0}, "run_id must be"),
        ("renew", ["run-x", 100.0], "the input must be an object"),
        ("renew", {"run_id": "run-a", "now": None}, "now must be epoch seconds"),
        ("expire", {"now": 110.0}, "unknown operation"),
        ("grab_everything", {"run_id": "run-x", "now": 100.0}, "unknown operation"),
    ],
)
def test_a_malformed_operation_fails_alone_and_changes_nothing(handle, operation, payload, message):
    before, _ = run_batch(handle, None, ("acquire", {"run_id": "run-a", "now": 100.0, "limits": LIMITS}))
    state, results = run_batch(handle, before, (operation, payload), ("acquire", {"run_id": "run-b", "now": 101.0}))
    assert results[0][0] == "error" and message in results[0][1]
    assert results[1] == {"granted": False, "position": 1, "lease_expires": None, "admitted": []}
    assert state["holders"] == before["holders"]
