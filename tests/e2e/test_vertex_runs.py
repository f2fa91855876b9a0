"""Runs on Veo (Vertex AI) through the whole app on the local host, with Azurite, the Vertex emulator beside the Sora
emulator, and google-auth's real token refresh against a loopback token endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulators import processes
from tests.e2e.conftest import SoraflowClient, start_stack
from tests.google_token_server import GoogleTokenServer
from tests.media import image_bytes, probe

PROJECT = "soraflow-e2e"
TOKEN = "vertex-e2e-token-0123456789"
FAST = "veo-3.1-fast-generate-001"


@pytest.fixture(scope="module")
def vertex_app(tmp_path_factory, azurite_connection_string) -> Iterator[tuple[SoraflowClient, str]]:
    work = tmp_path_factory.mktemp("vertex-e2e")
    with GoogleTokenServer(TOKEN) as tokens:
        args = ["--time-scale", "0.01", "--api-key", TOKEN, "--project", PROJECT, "--media-cache", str(work / "media")]
        vertex = processes.start_vertex_emulator(args=args, log_path=work / "vertex.log")
        app_env = {
            "VERTEX_PROJECT": PROJECT,
            "VERTEX_ENDPOINT": vertex.url,
            "VERTEX_CREDENTIALS": str(tokens.write_key_file(work)),
            "CREATE_RETRY_SECONDS": "0.5,0.5,0.5",
        }
        sora, host = start_stack(work, azurite_connection_string, app_env=app_env)
        client = SoraflowClient(host.url, sora.url, azurite_connection_string, host)
        try:
            yield client, vertex.url
        finally:
            client.http.close()
            host.stop()
            sora.stop()
            vertex.stop()


def vertex_log(url: str, **filters: str) -> list[dict]:
    entries = httpx.get(f"{url}/_emulator/requests", timeout=30).json()["requests"]
    return [entry for entry in entries if all(entry.get(k) == v for k, v in filters.items())]


def test_text_to_video_on_veo_lands_an_mp4_with_audio_in_blob_storage(vertex_app, tmp_path):
    app, vertex = vertex_app
    run = app.run(prompt="a lighthouse at dusk", model=FAST, size="720x1280", seconds="4")
    assert run["status"] == "completed", run
    video = next(output for output in run["outputs"] if output["kind"] == "video")
    media = probe(app.download_blob(video["blob"], tmp_path / "video.mp4"))
    assert (media.width, media.height, round(media.duration), media.audio_codec) == (720, 1280, 4, "aac")
    assert len([e for e in vertex_log(vertex, operation="create") if e["status"] == 200]) == 1


def test_image_to_video_on_veo_starts_from_the_uploaded_frame(vertex_app, tmp_path):
    app, vertex = vertex_app
    files = {"input_reference": ("frame.png", image_bytes(1280, 720), "image/png")}
    fields = {"prompt": "the scene comes alive", "model": FAST, "size": "1280x720", "seconds": "6"}
    response = app.post_video(data=fields, files=files)
    assert response.status_code == 202, response.text
    run = app.wait(response.json()["id"])
    assert run["status"] == "completed", run
    video = next(output for output in run["outputs"] if output["kind"] == "video")
    media = probe(app.download_blob(video["blob"], tmp_path / "video.mp4"))
    assert (media.width, media.height, round(media.duration)) == (1280, 720, 6)
    assert run["request"].get("input_reference"), run["request"]
    assert [e["status"] for e in vertex_log(vertex, operation="create")][-1] == 200


def test_a_remix_on_veo_is_a_400_that_starts_nothing(vertex_app):
    app, vertex = vertex_app
    before = len(vertex_log(vertex))
    response = app.post_video({"prompt": "a boat", "model": "veo-3.1-generate-001", "remix": {"prompt": "at night"}})
    assert response.status_code == 400
    assert {"field": "remix", "message": "remix is not supported by veo-3.1-generate-001"} in response.json()["errors"]
    assert len(vertex_log(vertex)) == before


def test_a_resource_exhausted_create_waits_and_ends_with_exactly_one_job(vertex_app):
    app, vertex = vertex_app
    fault = {"api": "vertex", "operation": "create", "kind": "status", "status": 429, "count": 1}
    httpx.post(f"{vertex}/_emulator/faults", json=fault, timeout=30).raise_for_status()
    before = len(vertex_log(vertex, operation="create"))
    run = app.run(prompt="a quiet harbour at dawn", model=FAST, size="1280x720", seconds="4")
    creates = vertex_log(vertex, operation="create")[before:]
    assert run["status"] == "completed", run
    assert [entry["status"] for entry in creates] == [429, 200]


def test_an_unavailable_create_is_retried_and_ends_with_exactly_one_job(vertex_app):
    app, vertex = vertex_app
    fault = {"api": "vertex", "operation": "create", "kind": "status", "status": 503, "count": 1}
    httpx.post(f"{vertex}/_emulator/faults", json=fault, timeout=30).raise_for_status()
    before = len(vertex_log(vertex, operation="create"))
    run = app.run(prompt="rain on a tin roof", model=FAST, size="1280x720", seconds="4")
    assert run["status"] == "completed", run
    assert [entry["status"] for entry in vertex_log(vertex, operation="create")[before:]] == [503, 200]


def test_server_errors_and_dropped_answers_while_polling_and_storing_end_with_exactly_one_job(vertex_app, tmp_path):
    app, vertex = vertex_app
    for fault in (
        {"api": "vertex", "operation": "retrieve", "kind": "status", "status": 500, "count": 2},
        {"api": "vertex", "operation": "retrieve", "kind": "drop", "count": 2},
    ):
        httpx.post(f"{vertex}/_emulator/faults", json=fault, timeout=30).raise_for_status()
    before = len(vertex_log(vertex, operation="create"))
    polled = len(vertex_log(vertex, operation="retrieve"))
    run = app.run(prompt="a kite over the dunes", model=FAST, size="720x1280", seconds="4")
    assert run["status"] == "completed", run
    statuses = [entry["status"] for entry in vertex_log(vertex, operation="retrieve")[polled:]]
    assert statuses.count(500) == 2 and len(statuses) >= 5, statuses
    assert len(vertex_log(vertex, operation="create")[before:]) == 1
    video = next(output for output in run["outputs"] if output["kind"] == "video")
    assert probe(app.download_blob(video["blob"], tmp_path / "video.mp4")).height == 1280


def test_models_lists_veo_beside_sora_with_what_vertex_can_do(vertex_app):
    app, _vertex = vertex_app
    response = app.http.get(f"{app.url}/api/models")
    assert response.status_code == 200, response.text
    body = response.json()
    models = {model["model"]: model for model in body.get("data", body.get("models", body))}
    veo = models["veo-3.1-generate-001"]
    assert (veo["provider"], veo["remix"], veo["lists_jobs"], veo["retention_hours"]) == ("vertex", False, False, 48.0)
    assert veo["price"]["usd_per_second"]["1280x720+audio"] == 0.40
    assert models["sora-2"]["provider"] == "sora"
