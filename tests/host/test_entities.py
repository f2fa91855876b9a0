"""Entities on the local host: ordered operations, concurrent signals, calls from orchestrations, persistence."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.host.conftest import RunningHost, wait_until

APP = "entities"


def state(host: RunningHost, name: str, key: str) -> dict:
    return host.request("GET", f"/api/entities/{name}/{key}").json()


def test_fifty_concurrent_signals_lose_no_update(module_host: RunningHost):
    key = uuid.uuid4().hex

    def add_one(_):
        return module_host.client.post(f"{module_host.url}/api/entities/Counter/{key}/add", json=1).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(add_one, range(50))) == {202}
    final = wait_until(lambda: (s := state(module_host, "Counter", key))["state"] == 50 and s, message="50 adds")
    assert final == {"exists": True, "state": 50}


def test_operations_of_one_entity_run_in_order(module_host: RunningHost):
    key = uuid.uuid4().hex
    for letter in "abcdef":
        module_host.request("POST", f"/api/entities/ledger/{key}/append", json=letter)
    wait_until(lambda: len(state(module_host, "ledger", key)["state"] or []) == 6, message="six appends")
    assert state(module_host, "ledger", key)["state"] == list("abcdef")


def test_unknown_entities_do_not_exist(module_host: RunningHost):
    assert state(module_host, "Counter", "never-touched") == {"exists": False, "state": None}
    assert module_host.webhook("GET", "entities/counter/never-touched").status_code == 404


def test_entity_names_are_case_insensitive_and_state_is_served_over_http(module_host: RunningHost):
    key = uuid.uuid4().hex
    module_host.request("POST", f"/api/entities/COUNTER/{key}/add", json=3)
    wait_until(lambda: state(module_host, "counter", key)["state"] == 3, message="the add")
    assert module_host.webhook("GET", f"entities/Counter/{key}").json() == 3
    listed = module_host.webhook("GET", "entities/counter", params={"fetchState": "true"}).json()
    assert {"name": "counter", "key": key} in [item["entityId"] for item in listed]


def test_orchestrations_signal_and_call_entities(module_host: RunningHost):
    key = uuid.uuid4().hex
    payload = module_host.request("POST", "/api/orchestrators/use_counter", json=key).json()
    done = module_host.wait_for(payload["id"])
    assert done["runtimeStatus"] == "Completed", done
    assert done["output"]["total"] == 12  # both signals ran before the call, in order
    assert "the counter refuses" in done["output"]["failure"]
    assert done["output"]["ledger"] == ["x", "y", "z"]


def test_delete_removes_the_entity(module_host: RunningHost):
    key = uuid.uuid4().hex
    module_host.request("POST", f"/api/entities/Counter/{key}/add", json=1)
    wait_until(lambda: state(module_host, "Counter", key)["exists"], message="the entity")
    assert module_host.webhook("DELETE", f"entities/Counter/{key}").status_code == 202
    wait_until(lambda: not state(module_host, "Counter", key)["exists"], message="the delete")


def test_signal_input_must_be_valid_json(module_host: RunningHost):
    response = module_host.webhook(
        "POST", "entities/Counter/x", params={"op": "add"}, content=b"{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert module_host.webhook("POST", "entities/bad@name/x", params={"op": "add"}, json=1).status_code == 400


def test_entity_state_survives_a_restart(start_host):
    host = start_host(APP)
    key = uuid.uuid4().hex
    host.request("POST", f"/api/entities/Counter/{key}/add", json=41)
    wait_until(lambda: state(host, "Counter", key)["state"] == 41, message="the add")
    host.kill()
    host.start()
    assert state(host, "Counter", key) == {"exists": True, "state": 41}
