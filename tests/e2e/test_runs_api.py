"""The run API around a generation: idempotent starts, cancel, delete, list, content, callbacks, OpenAPI."""

from __future__ import annotations

import httpx
import jsonschema
import pytest

from soraflow.callbacks import SIGNATURE_HEADER, verify
from tests.callback_receiver import CallbackReceiver
from tests.e2e.conftest import CALLBACK_SECRET


def successful(requests: list[dict]) -> list[dict]:
    return [r for r in requests if r["status"] < 300]


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
    assert soraflow_app.post_video({"prompt": "one"}, headers=headers).status_code == 202
    response = soraflow_app.post_video({"prompt": "two"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


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


def test_list_filters_by_status_and_pages_with_a_continuation(soraflow_app):
    ids = [soraflow_app.start(prompt=f"list item {n}")["id"] for n in range(3)]
    for run_id in ids:
        soraflow_app.wait(run_id)
    seen: list[str] = []
    token = None
    while True:
        params = {"status": "completed", "limit": 2, **({"continuation": token} if token else {})}
        page = soraflow_app.http.get(f"{soraflow_app.url}/api/videos", params=params).json()
        assert len(page["data"]) <= 2
        assert {run["status"] for run in page["data"]} <= {"completed"}
        seen += [run["id"] for run in page["data"]]
        if not page["has_more"]:
            break
        token = page["continuation"]
    assert set(ids) <= set(seen)
    assert len(seen) == len(set(seen))


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
    check(httpx.get(f"{soraflow_app.url}/api/health").json(), "Health")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], f"{method} {path} documents no responses"
