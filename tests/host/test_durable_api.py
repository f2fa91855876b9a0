"""The Durable HTTP API of the local host: the extension's status codes, through raw HTTP and the SDK client."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from tests.host.conftest import DEFAULT_KEY, RunningHost, wait_until
from tests.host.test_orchestrations import raise_event, start

APP = "durable_features"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_start_with_a_given_id_and_reuse_rules(module_host: RunningHost):
    instance_id = unique("reuse")
    assert start(module_host, "waits_forever", 1, instance_id) == instance_id
    again = module_host.request("POST", f"/api/start/waits_forever/{instance_id}", params={"code": DEFAULT_KEY})
    assert again.status_code == 409
    assert "already exists" in again.json()["error"]
    raw = module_host.webhook("POST", f"orchestrators/waits_forever/{instance_id}", json=1)
    assert raw.status_code == 409
    module_host.request("POST", f"/api/manage/{instance_id}/terminate", params={"code": DEFAULT_KEY})
    module_host.wait_for(instance_id)
    assert start(module_host, "sequence", "second life", instance_id) == instance_id
    done = module_host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Completed"
    assert done["output"][1] == "Hello second life!"


def test_start_without_an_id_makes_one(module_host: RunningHost):
    first, second = start(module_host, "sequence", "x"), start(module_host, "sequence", "y")
    assert first != second and len(first) == 32


def test_start_rejects_unknown_orchestrators_bad_json_and_bad_ids(module_host: RunningHost):
    unknown = module_host.webhook("POST", "orchestrators/no_such_thing")
    assert unknown.status_code == 400
    assert "doesn't exist" in unknown.json()["ExceptionMessage"]
    via_sdk = module_host.request("POST", "/api/start/no_such_thing", params={"code": DEFAULT_KEY})
    assert "doesn't exist" in via_sdk.json()["error"]
    bad_json = module_host.webhook("POST", "orchestrators/sequence", content=b"{not json")
    assert bad_json.status_code == 400
    too_long = module_host.webhook("POST", "orchestrators/sequence/" + "x" * 300, json="a")
    assert too_long.status_code == 400
    control = module_host.webhook("POST", "orchestrators/sequence/a%01b", json="a")
    assert control.status_code == 400


def test_create_and_wait_returns_the_output(module_host: RunningHost):
    response = module_host.webhook(
        "POST", "orchestrators/sequence", params={"timeout": "10", "pollingInterval": "0.05"}, json="Di"
    )
    assert response.status_code == 200
    assert response.json()[1] == "Hello Di!"


def test_status_codes_follow_the_extension(module_host: RunningHost):
    running = start(module_host, "waits_forever", None)
    module_host.wait_for(running, {"Running"})
    response = module_host.webhook("GET", f"instances/{running}")
    assert response.status_code == 202
    assert response.headers["retry-after"] == "5"
    assert running in response.headers["location"]
    failed = start(module_host, "failing", "x")
    module_host.wait_for(failed)
    assert module_host.webhook("GET", f"instances/{failed}").status_code == 200
    strict = module_host.webhook("GET", f"instances/{failed}", params={"returnInternalServerErrorOnFailure": "true"})
    assert strict.status_code == 500
    assert module_host.webhook("GET", "instances/nobody-home").status_code == 404
    missing = module_host.request("GET", "/api/status/nobody-home", params={"code": DEFAULT_KEY})
    assert missing.status_code == 404 and missing.json()["found"] is False  # the SDK's falsy status


def test_status_shows_input_and_history_on_request(module_host: RunningHost):
    instance_id = start(module_host, "sequence", "Ed")
    module_host.wait_for(instance_id)
    default = module_host.status(instance_id)
    assert default["input"] == '"Ed"'  # the SDK's client sends JSON text inside a JSON string, as in Azure
    assert "historyEvents" not in default
    hidden = module_host.status(instance_id, showInput="false")
    assert hidden["input"] is None
    with_history = module_host.status(instance_id, showHistory="true")
    kinds = [e["EventType"] for e in with_history["historyEvents"]]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted"
    assert "Result" not in with_history["historyEvents"][1]
    with_output = module_host.status(instance_id, showHistory="true", showHistoryOutput="true")
    assert with_output["historyEvents"][1]["Result"] == '"Hello Tokyo!"'
    via_sdk = module_host.request("GET", f"/api/status/{instance_id}", params={"code": DEFAULT_KEY, "history": "1"})
    assert via_sdk.json()["runtimeStatus"] == "Completed"


def test_list_filters_by_prefix_status_and_time_and_pages(module_host: RunningHost):
    prefix = unique("listing")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    ids = [start(module_host, "sequence", str(i), f"{prefix}-{i}") for i in range(3)]
    waiting = start(module_host, "waits_forever", None, f"{prefix}-waiting")
    for instance_id in ids:
        module_host.wait_for(instance_id)
    module_host.wait_for(waiting, {"Running"})
    listed = module_host.request("GET", "/api/instances", params={"code": DEFAULT_KEY, "prefix": prefix}).json()
    assert listed == sorted([*ids, waiting])
    running = module_host.request(
        "GET", "/api/instances", params={"code": DEFAULT_KEY, "prefix": prefix, "status": "Running"}
    ).json()
    assert running == [waiting]
    recent = module_host.request(
        "GET", "/api/instances", params={"code": DEFAULT_KEY, "since": since.isoformat(), "prefix": prefix}
    ).json()
    assert len(recent) == 4
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert module_host.webhook("GET", "instances/", params={"createdTimeFrom": future}).json() == []
    pages, token = [], None
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        query = {"instanceIdPrefix": prefix, "top": "3"}
        page = module_host.webhook("GET", "instances/", params=query, headers=headers)
        pages.append([s["instanceId"] for s in page.json()])
        token = page.headers.get("x-ms-continuation-token")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 1]
    assert sorted(pages[0] + pages[1]) == sorted([*ids, waiting])
    bad_token = module_host.webhook("GET", "instances/", headers={"x-ms-continuation-token": "%%%"})
    assert bad_token.status_code == 400


def listed_pages(host: RunningHost, **query: str) -> list[list[dict]]:
    """Every page of the instance list, following `x-ms-continuation-token` as a client of the extension must."""
    pages, token = [], None
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        response = host.webhook("GET", "instances/", params=query, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        token = response.headers.get("x-ms-continuation-token")
        if not token:
            return pages


def test_a_list_without_top_comes_in_pages_of_100_joined_by_the_continuation_token(module_host: RunningHost):
    prefix = unique("many")
    ids = [f"{prefix}-{i:03d}" for i in range(250)]
    for instance_id in ids:
        assert module_host.webhook("POST", f"orchestrators/waits_forever/{instance_id}", json=1).status_code == 202

    pages = listed_pages(module_host, instanceIdPrefix=prefix)

    assert [len(page) for page in pages] == [100, 100, 50]
    assert sorted(status["instanceId"] for page in pages for status in page) == ids


def test_a_list_shows_inputs_unless_show_input_is_false(module_host: RunningHost):
    instance_id = unique("listed-input")
    assert module_host.webhook("POST", f"orchestrators/waits_forever/{instance_id}", json={"colour": "teal"}).is_success

    [shown] = listed_pages(module_host, instanceIdPrefix=instance_id)
    [hidden] = listed_pages(module_host, instanceIdPrefix=instance_id, showInput="false")

    assert [status["input"] for status in shown] == [{"colour": "teal"}]
    assert [status["input"] for status in hidden] == [None]


def test_raise_event_status_codes(module_host: RunningHost):
    assert module_host.webhook("POST", "instances/nobody/raiseEvent/E", json=1).status_code == 404
    waiting = start(module_host, "suspendable", None)
    module_host.wait_for(waiting, {"Running"})
    wrong_type = module_host.webhook(
        "POST", f"instances/{waiting}/raiseEvent/One", content=b"1", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 400
    bad_json = module_host.webhook(
        "POST", f"instances/{waiting}/raiseEvent/One", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert module_host.webhook("POST", f"instances/{waiting}/raiseEvent/One", json={"a": 1}).status_code == 202
    assert module_host.webhook("POST", f"instances/{waiting}/raiseEvent/Two", json="b").status_code == 202
    assert module_host.wait_for(waiting)["output"] == [{"a": 1}, "b"]
    assert module_host.webhook("POST", f"instances/{waiting}/raiseEvent/Two", json=1).status_code == 410


def test_terminate_and_its_status_codes(module_host: RunningHost):
    assert module_host.webhook("POST", "instances/nobody/terminate").status_code == 404
    instance_id = start(module_host, "waits_forever", None)
    module_host.wait_for(instance_id, {"Running"})
    assert module_host.request("POST", f"/api/manage/{instance_id}/terminate", params={"code": DEFAULT_KEY}).is_success
    done = module_host.wait_for(instance_id)
    assert (done["runtimeStatus"], done["output"]) == ("Terminated", "stopped by test")
    assert module_host.webhook("POST", f"instances/{instance_id}/terminate").status_code == 410


def test_suspend_holds_events_until_resume(module_host: RunningHost):
    instance_id = start(module_host, "suspendable", None)
    module_host.wait_for(instance_id, {"Running"})
    assert module_host.request("POST", f"/api/manage/{instance_id}/suspend", params={"code": DEFAULT_KEY}).is_success
    module_host.wait_for(instance_id, {"Suspended"})
    raise_event(module_host, instance_id, "One", 1)
    raise_event(module_host, instance_id, "Two", 2)
    assert module_host.webhook("GET", f"instances/{instance_id}").status_code == 202
    assert module_host.status(instance_id)["runtimeStatus"] == "Suspended"
    assert module_host.request("POST", f"/api/manage/{instance_id}/resume", params={"code": DEFAULT_KEY}).is_success
    assert module_host.wait_for(instance_id)["output"] == [1, 2]
    assert module_host.webhook("POST", f"instances/{instance_id}/suspend").status_code == 410
    assert module_host.webhook("POST", "instances/nobody/resume").status_code == 404


def test_purge_by_id_and_by_filter(module_host: RunningHost):
    running = start(module_host, "waits_forever", None)
    module_host.wait_for(running, {"Running"})
    assert module_host.webhook("DELETE", f"instances/{running}").status_code == 412
    done = start(module_host, "sequence", "z")
    module_host.wait_for(done)
    purged = module_host.request("POST", f"/api/manage/{done}/purge", params={"code": DEFAULT_KEY}).json()
    assert purged == {"deleted": 1}
    assert module_host.status(done) is None
    assert module_host.webhook("DELETE", f"instances/{done}").status_code == 404
    assert module_host.webhook("DELETE", "instances/").status_code == 400
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    finished = [start(module_host, "sequence", str(i)) for i in range(2)]
    for instance_id in finished:
        module_host.wait_for(instance_id)
    query = {"createdTimeFrom": since, "runtimeStatus": "Completed"}
    response = module_host.webhook("DELETE", "instances/", params=query)
    assert response.status_code == 200 and response.json()["instancesDeleted"] >= 2
    assert all(module_host.status(i) is None for i in finished)
    assert module_host.status(running)["runtimeStatus"] == "Running"  # active instances are never purged


def test_restart_starts_a_new_instance_with_the_same_input(module_host: RunningHost):
    first = start(module_host, "sequence", "again")
    module_host.wait_for(first)
    restarted = module_host.request("POST", f"/api/manage/{first}/restart", params={"code": DEFAULT_KEY}).json()["id"]
    assert restarted != first
    assert module_host.wait_for(restarted)["output"][1] == "Hello again!"
    assert module_host.webhook("POST", "instances/nobody/restart").status_code == 400
    same = module_host.webhook("POST", f"instances/{first}/restart", params={"restartWithNewInstanceId": "false"})
    assert same.status_code == 202 and same.json()["id"] == first


def test_rewind_reruns_the_failed_activity(module_host: RunningHost, tmp_path: Path):
    instance_id = start(module_host, "fail_then_recover", str(tmp_path))
    assert module_host.wait_for(instance_id)["runtimeStatus"] == "Failed"
    assert module_host.request("POST", f"/api/manage/{instance_id}/rewind", params={"code": DEFAULT_KEY}).is_success
    done = module_host.wait_for(instance_id)
    assert (done["runtimeStatus"], done["output"]) == ("Completed", "ok on attempt 2")
    assert module_host.webhook("POST", f"instances/{instance_id}/rewind").status_code == 412
    assert module_host.webhook("POST", "instances/nobody/rewind").status_code == 404


def test_webhooks_need_the_system_key_when_keys_are_checked(start_host):
    host = start_host(APP, args=["--enable-auth"])
    assert host.request("GET", "/runtime/webhooks/durabletask/instances/").status_code == 401
    payload = host.request("POST", "/api/start/sequence", params={"code": DEFAULT_KEY}, json="k").json()
    status_url = payload["statusQueryGetUri"]
    assert wait_until(lambda: host.client.get(status_url).status_code == 200, message="status via its URL")
    stripped = status_url.split("&code=")[0]
    assert host.client.get(stripped).status_code == 401


def test_webhook_urls_carry_the_system_key_even_when_keys_are_not_checked(module_host: RunningHost):
    payload = module_host.request("POST", "/api/start/sequence", json="no key").json()
    assert "&code=" in payload["statusQueryGetUri"]
    assert module_host.client.get(payload["statusQueryGetUri"].split("&code=")[0]).status_code in (200, 202)
