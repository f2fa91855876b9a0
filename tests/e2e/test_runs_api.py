"""The run API around a generation: idempotent starts, cancel, delete, list, content, callbacks, OpenAPI."""

from __future__ import annotations

import time

import httpx
import jsonschema
import pytest

from soraflow.callbacks import SIGNATURE_HEADER, verify
from soraflow.run_index import RunIndex
from soraflow.storage import resolve_connection
from tests.callback_receiver import CallbackReceiver
from tests.e2e.conftest import CALLBACK_SECRET, MASTER_KEY


def successful(requests: list[dict]) -> list[dict]:
    return [r for r in requests if r["status"] < 300]


def list_runs(app, **params) -> list[dict]:
    """Every run the list shows, page by page (`limit` per page), checking each page's size and token."""
    runs: list[dict] = []
    token = None
    while True:
        page = app.http.get(f"{app.url}/api/videos", params={**params, **({"continuation": token} if token else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["data"]) <= int(params.get("limit", 20))
        runs += body["data"]
        if not body["has_more"]:
            assert "continuation" not in body
            return runs
        token = body["continuation"]


def wait_listed(app, run_id: str, status: str, timeout: float = 30) -> None:
    """Poll the list filtered by `status` until it shows the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run_id in [run["id"] for run in list_runs(app, status=status, limit=100)]:
            return
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never listed as {status}")


# --- idempotency ---


def test_a_retried_post_with_the_same_key_returns_the_same_run(soraflow_app):
    before = len(successful(soraflow_app.sora_requests(operation="create")))
    body = {"prompt": "a robot watering tulips", "seconds": 4}
    headers = {"Idempotency-Key": "order-4711"}
    first = soraflow_app.post_video(body, headers=headers)
    again = soraflow_app.post_video(body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    soraflow_app.wait(first.json()["id"])
    after_finish = soraflow_app.post_video(body, headers=headers)
    assert after_finish.json()["id"] == first.json()["id"]
    assert len(successful(soraflow_app.sora_requests(operation="create"))) == before + 1


def test_the_same_key_with_another_body_is_a_conflict(soraflow_app):
    headers = {"Idempotency-Key": "order-4712"}
    started = soraflow_app.post_video({"prompt": "one"}, headers=headers)
    assert started.status_code == 202
    response = soraflow_app.post_video({"prompt": "two"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    soraflow_app.wait(started.json()["id"])  # a run left going would take the next test's scripted fault


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
def test_a_malformed_idempotency_key_is_rejected(soraflow_app, key):
    response = soraflow_app.post_video({"prompt": "x"}, headers={"Idempotency-Key": key.encode("utf-8")})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


# --- cancel and delete ---


def test_cancel_while_generating_stops_the_run_and_deletes_the_provider_job(soraflow_app):
    soraflow_app.sora_admin("POST", "faults", {"kind": "stall", "operation": "create", "count": 1})
    run = soraflow_app.start(prompt="a never-ending render")
    generating = soraflow_app.wait(run["id"], statuses={"generating"})
    job_id = generating["provider"]["job_id"]
    assert soraflow_app.get(run["id"]).json()["status"] == "generating"
    wait_listed(soraflow_app, run["id"], "generating")  # a stage change reaches the run index too
    deleted_early = soraflow_app.http.delete(f"{soraflow_app.url}/api/videos/{run['id']}")
    assert deleted_early.status_code == 409  # still running

    response = soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{run['id']}/cancel")
    assert response.status_code == 202
    cancelled = soraflow_app.wait(run["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"]["code"] == "cancelled"
    deletes = successful(soraflow_app.sora_requests(operation="delete"))
    assert job_id in {r["job_id"] for r in deletes}
    manifest = soraflow_app.blobs().download_blob(f"runs/{run['id']}/run.json").readall()
    assert b'"cancelled"' in manifest
    again = soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{run['id']}/cancel")
    assert again.status_code == 409


def test_delete_removes_outputs_and_history(soraflow_app):
    run = soraflow_app.run(prompt="a snail race")
    assert run["status"] == "completed"
    prefix = f"runs/{run['id']}/"
    assert list(soraflow_app.blobs().list_blobs(name_starts_with=prefix))
    response = soraflow_app.http.delete(f"{soraflow_app.url}/api/videos/{run['id']}")
    assert response.status_code == 204
    assert soraflow_app.get(run["id"]).status_code == 404
    assert not list(soraflow_app.blobs().list_blobs(name_starts_with=prefix))
    assert soraflow_app.http.delete(f"{soraflow_app.url}/api/videos/{run['id']}").status_code == 404


@pytest.mark.parametrize("run_id", ["..%2F..%2Fetc", "run-DOES-NOT-EXIST", "x"])
def test_unknown_or_hostile_ids_are_404(soraflow_app, run_id):
    response = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run_id}")
    assert response.status_code == 404
    if response.content:  # a path that matches no route is the host's own empty 404
        assert response.headers["content-type"].startswith("application/problem+json")


# --- list ---


def test_the_list_shows_runs_newest_first_with_their_final_status_and_filters_by_status(soraflow_app):
    prompts = ["list item one", "list item two [moderation]", "list item three"]
    ids = [soraflow_app.start(prompt=prompt)["id"] for prompt in prompts]
    finished = {run_id: soraflow_app.wait(run_id) for run_id in ids}

    listed = [run for run in list_runs(soraflow_app, limit=2) if run["id"] in ids]
    assert [run["id"] for run in listed] == ids[::-1]
    assert [run["status"] for run in listed] == ["completed", "failed", "completed"]
    for run in listed:  # the run resource, content urls and all (created_at is when the API accepted the request)
        assert {**run, "created_at": None} == {**finished[run["id"]], "created_at": None}
    failed = [run["id"] for run in list_runs(soraflow_app, status="failed", limit=1)]
    assert ids[1] in failed and ids[0] not in failed and ids[2] not in failed
    assert ids[1] not in [run["id"] for run in list_runs(soraflow_app, status="completed", limit=100)]


def test_the_list_is_read_from_the_run_index_and_a_deleted_run_leaves_it(soraflow_app):
    kept, deleted = (soraflow_app.run(prompt=f"indexed run {n}")["id"] for n in range(2))
    assert soraflow_app.http.delete(f"{soraflow_app.url}/api/videos/{deleted}").status_code == 204
    listed = [run["id"] for run in list_runs(soraflow_app, limit=100)]
    assert kept in listed and deleted not in listed

    # Purged behind the API's back, the run is gone from durable state but its row still lists: the list reads the
    # index, never the instances.
    purge = soraflow_app.http.delete(
        f"{soraflow_app.url}/runtime/webhooks/durabletask/instances/{kept}", params={"code": MASTER_KEY}
    )
    assert purge.status_code == 200, purge.text
    assert soraflow_app.get(kept).status_code == 404
    assert kept in [run["id"] for run in list_runs(soraflow_app, limit=100)]


def test_reading_a_finished_run_whose_row_is_missing_writes_the_row_again(soraflow_app):
    run = soraflow_app.run(prompt="a run whose index write was lost")
    index = RunIndex(resolve_connection(env={"VIDEO_STORAGE": soraflow_app.connection_string}))
    row = next(listed for listed in list_runs(soraflow_app, limit=100) if listed["id"] == run["id"])
    created_at = row["created_at"]
    index.remove(run["id"], created_at)  # as if the run's final index write had failed
    assert run["id"] not in [listed["id"] for listed in list_runs(soraflow_app, limit=100)]

    assert soraflow_app.get(run["id"]).status_code == 200
    assert index.find(run["id"], created_at)["status"] == "completed"
    assert run["id"] in [listed["id"] for listed in list_runs(soraflow_app, status="completed", limit=100)]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "done"}, "status"), ({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"),
     ({"continuation": "garbage!"}, "continuation")],
)  # fmt: skip
def test_list_rejects_bad_parameters(soraflow_app, params, field):
    response = soraflow_app.http.get(f"{soraflow_app.url}/api/videos", params=params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


# --- content ---


def test_content_redirects_to_a_short_lived_url(soraflow_app):
    run = soraflow_app.run(prompt="a mountain goat")
    response = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run['id']}/content", params={"variant": "video"})
    assert response.status_code == 302
    url = response.headers["location"]
    assert "sig=" in url and "se=" in url
    video = httpx.get(url, timeout=30)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    thumb = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run['id']}/content", params={"variant": "thumbnail"})
    assert httpx.get(thumb.headers["location"], timeout=30).content[8:12] == b"WEBP"
    missing = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run['id']}/content", params={"index": "3"})
    assert missing.status_code == 404
    bad = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run['id']}/content", params={"variant": "audio"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "variant"


def test_content_streaming_is_a_400_naming_stream_that_points_at_the_redirect(soraflow_app):
    run = soraflow_app.run(prompt="a mountain stream")
    response = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run['id']}/content", params={"stream": "true"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["field"] == "stream" and "follow the 302" in error["message"]


# --- callbacks ---


def test_the_final_run_is_posted_to_the_callback_url_signed(soraflow_app):
    with CallbackReceiver() as receiver:
        run = soraflow_app.run(prompt="fireflies", callback_url=receiver.url)
        body, headers = receiver.wait_for(1)[0]
    assert verify(body, headers[SIGNATURE_HEADER], CALLBACK_SECRET)
    assert f'"id":"{run["id"]}"'.encode() in body
    assert b'"status":"completed"' in body


# --- the OpenAPI document ---


def test_real_responses_match_the_openapi_document(soraflow_app):
    document = soraflow_app.http.get(f"{soraflow_app.url}/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]

    def check(instance, name):
        schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator)
        assert name in schemas

    started = soraflow_app.post_video({"prompt": "a schema-shaped cloud"})
    check(started.json(), "Run")
    check(soraflow_app.wait(started.json()["id"]), "Run")
    check(soraflow_app.http.get(f"{soraflow_app.url}/api/videos", params={"limit": 2}).json(), "RunList")
    check(soraflow_app.post_video({"prompt": ""}).json(), "Problem")
    check(soraflow_app.get("run-doesnotexist0").json(), "Problem")
    check(soraflow_app.http.get(f"{soraflow_app.url}/api/models").json(), "ModelList")
    check(httpx.get(f"{soraflow_app.url}/api/health").json(), "Health")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], f"{method} {path} documents no responses"


def test_the_models_list_shows_every_configured_model_with_its_capabilities_and_price(soraflow_app):
    body = soraflow_app.http.get(f"{soraflow_app.url}/api/models").json()
    assert body["providers"] == ["sora"] and body["default_model"] == "sora-2"
    models = {model["model"]: model for model in body["data"]}
    assert body["data"][0]["model"] == "sora-2", "the default model comes first"
    sora2 = models["sora-2"]
    assert (sora2["provider"], sora2["sizes"], sora2["seconds"]) == ("sora", ["720x1280", "1280x720"], ["4", "8", "12"])
    assert sora2["remix"] is True and sora2["max_variants"] == 1 and sora2["retention_hours"] == 24
    assert sora2["price"]["usd_per_second"] == {"720x1280": 0.1, "1280x720": 0.1}
    assert models["sora-2-pro"]["price"]["usd_per_second"]["1792x1024"] == 0.5
