"""fal end to end: the app over HTTP on the local host, with Azurite, the fal emulator and the Sora emulator at once;
the bytes in Blob Storage are checked, and the emulators' request logs say which provider got what, and how often."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.fal_app import FAL_KEY, FalApp, fal_app
from tests.media import image_bytes, probe


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, azurite_connection_string: str) -> Iterator[FalApp]:
    work = tmp_path_factory.mktemp("fal-e2e")
    with fal_app(work, azurite_connection_string, FAL_EXTRA_MODELS=json.dumps(EXTRA_MODELS)) as started:
        render_silent_kling_once(started)
        yield started


# A fal model soraflow has not built in, added by setting: MiniMax Hailuo 02 Pro (1080p, always 6 s, no duration field).
HAILUO_PRO = "fal-ai/minimax/hailuo-02/pro"
EXTRA_MODELS = {
    HAILUO_PRO: {
        "text_endpoint": f"{HAILUO_PRO}/text-to-video",
        "sizes": {"1920x1080": {}},
        "seconds": {"6": None},
        "usd_per_second": 0.08,
    }
}


def render_silent_kling_once(stack: FalApp) -> None:
    """Have the emulator render the silent 1080x1920 5 s video before any run needs it.

    The emulator's first render of a silent video can be corrupted when its webhook and a result call render it at
    once (both write one partial file in emulators/fal/emulator.py `video_file`); rendered once, it is cached.
    """
    fal = httpx.Client(base_url=stack.fal.url, headers={"Authorization": f"Key {FAL_KEY}"}, timeout=30)
    body = {"prompt": "warm-up", "aspect_ratio": "9:16", "duration": "5"}
    submitted = fal.post("/fal-ai/kling-video/v2.5-turbo/pro/text-to-video", json=body).json()
    deadline = time.monotonic() + 60
    while fal.get(submitted["status_url"]).json()["status"] != "COMPLETED":
        assert time.monotonic() < deadline, "the emulator never completed the warm-up render"
        time.sleep(0.05)
    assert fal.get(submitted["response_url"]).status_code == 200
    fal.close()


@pytest.fixture(autouse=True)
def clean_faults(stack: FalApp):
    yield
    stack.fal_admin("DELETE", "faults")


def stored_video(stack: FalApp, run: dict, tmp_path):
    assert run["status"] == "completed", run
    video = next(o for o in run["outputs"] if o["kind"] == "video")
    return probe(stack.app.download_blob(video["blob"], tmp_path / "video.mp4"))


def test_veo_text_to_video_on_fal_lands_in_blob_with_its_size_duration_and_audio(stack, tmp_path):
    before = len(stack.fal_jobs())
    run = stack.app.run(model="fal-ai/veo3.1", size="720x1280", seconds="4")
    media = stored_video(stack, run, tmp_path)
    assert (media.width, media.height) == (720, 1280)
    assert media.duration == pytest.approx(4, abs=0.3)
    assert media.audio_codec is not None
    assert run["provider"]["job_id"].startswith("fal-ai/veo3.1::")
    assert len(stack.fal_jobs()) == before + 1


def test_kling_image_to_video_on_fal_sends_the_reference_to_its_image_endpoint(stack, tmp_path):
    response = stack.app.post_video(
        data={"prompt": "the kite climbs", "model": "fal-ai/kling-video/v2.5-turbo/pro", "size": "1080x1920",
              "seconds": "5"},
        files={"input_reference": ("kite.png", image_bytes(900, 1600), "image/png")},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    run = stack.app.wait(response.json()["id"])
    media = stored_video(stack, run, tmp_path)
    assert (media.width, media.height) == (1080, 1920)
    assert media.duration == pytest.approx(5, abs=0.3)
    assert media.audio_codec is None  # Kling 2.5 Turbo makes no sound
    submit = stack.fal_jobs()[-1]
    assert submit["path"] == "/fal-ai/kling-video/v2.5-turbo/pro/image-to-video"


def test_the_models_api_lists_fals_models_beside_soras(stack):
    response = stack.app.http.get(f"{stack.app.url}/api/models")
    assert response.status_code == 200, response.text
    models = {m["model"]: m for m in response.json()["data"]}
    assert {"sora-2", "fal-ai/veo3.1", "fal-ai/kling-video/v2.5-turbo/pro"} <= set(models)
    veo = models["fal-ai/veo3.1"]
    assert (veo["provider"], veo["lists_jobs"], veo["pushes_completion"], veo["retention_hours"]) == (
        "fal",
        False,
        True,
        168.0,
    )
    assert veo["source"] == "https://fal.ai/models/fal-ai/veo3.1"


def test_a_request_the_fal_model_cannot_serve_is_a_400_and_starts_nothing(stack):
    before = len(stack.fal_requests(operation="submit"))
    response = stack.app.post_video({"prompt": "a boat", "model": "fal-ai/veo3.1", "seconds": "5"})
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["seconds"]
    assert len(stack.fal_requests(operation="submit")) == before


def test_two_providers_at_once_route_each_request_by_its_model(stack):
    fal_before = len(stack.fal_jobs())
    sora_before = len(stack.app.sora_requests(operation="create"))
    sora_run = stack.app.start(model="sora-2", seconds="4")
    fal_run = stack.app.start(model="fal-ai/veo3.1/fast", seconds="4")
    assert stack.app.wait(sora_run["id"])["status"] == "completed"
    assert stack.app.wait(fal_run["id"])["status"] == "completed"
    assert len(stack.fal_jobs()) == fal_before + 1
    assert len(stack.app.sora_requests(operation="create")) == sora_before + 1


def test_cancel_on_fal_calls_its_cancel(stack):
    stack.fal_admin("POST", "faults", {"operation": "submit", "kind": "stall"})
    run = stack.app.start(model="fal-ai/veo3.1/fast", seconds="4")
    stack.app.wait(run["id"], statuses={"generating"})
    assert stack.app.http.post(f"{stack.app.url}/api/videos/{run['id']}/cancel").status_code == 202
    assert stack.app.wait(run["id"])["status"] == "cancelled"
    job_id = run_job(stack, run["id"]).split("::")[1]
    cancels = [c for c in stack.fal_requests(operation="cancel") if c.get("job_id") == job_id]
    assert len(cancels) >= 1 and all(c["method"] == "PUT" for c in cancels)


def run_job(stack: FalApp, run_id: str) -> str:
    return stack.app.get(run_id).json()["provider"]["job_id"]


@pytest.mark.parametrize(
    "fault",
    [
        {"operation": "submit", "kind": "status", "status": 429},
        {"operation": "status", "kind": "status", "status": 503, "count": 3},
        {"operation": "media", "kind": "drop"},
    ],
    ids=["429-on-submit", "5xx-on-status", "dropped-download"],
)
def test_faults_end_right_with_exactly_one_job(stack, fault, tmp_path):
    before = len(stack.fal_jobs())
    stack.fal_admin("POST", "faults", fault)
    run = stack.app.run(model="fal-ai/veo3.1/fast", seconds="4", size="1280x720")
    media = stored_video(stack, run, tmp_path)
    assert (media.width, media.height) == (1280, 720)
    assert len(stack.fal_jobs()) == before + 1
    hits = stack.fal_admin("GET", "faults").json()["faults"]
    assert all(f["hits"] >= 1 for f in hits), hits  # the fault really happened


def test_a_fal_model_added_by_setting_is_listed_priced_and_rendered(stack, tmp_path):
    models = stack.app.http.get(f"{stack.app.url}/api/models").json()["data"]
    [listed] = [m for m in models if m["model"] == HAILUO_PRO]
    assert (listed["provider"], listed["sizes"], listed["seconds"]) == ("fal", ["1920x1080"], ["6"])
    assert listed["price"]["usd_per_second"] == {"*": 0.08}

    refused = stack.app.post_video(json={"prompt": "a kite", "model": HAILUO_PRO, "seconds": "10"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "seconds"

    run = stack.app.run(model=HAILUO_PRO, size="1920x1080", seconds="6")
    media = stored_video(stack, run, tmp_path)
    assert (media.width, media.height) == (1920, 1080)
    assert media.duration == pytest.approx(6, abs=0.3)
    assert run["cost"]["estimated_usd"] == pytest.approx(0.48)
    submit = stack.fal_jobs()[-1]
    assert submit["path"] == f"/{HAILUO_PRO}/text-to-video"
