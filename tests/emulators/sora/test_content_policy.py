"""The documented content policy: reserved prompt tokens and a flagged (solid magenta) reference image."""

from __future__ import annotations

import json

import pytest

from tests.emulators.sora.conftest import JOBS, PREVIEW, Harness
from tests.emulators.sora.test_videos_api import error_of
from tests.media import image_bytes

MAGENTA = (255, 0, 255)


def test_input_moderation_token_refuses_the_create(sora: Harness):
    response = sora.http.post("/v1/videos", json={"prompt": "a famous actor [Input-Moderation] waving"})
    error = error_of(response, 400)
    assert error == {
        "message": "Your request was blocked by our moderation system.",
        "type": "invalid_request_error",
        "param": "prompt",
        "code": "moderation_blocked",
    }
    assert sora.http.get("/v1/videos").json()["data"] == []


def test_output_moderation_token_fails_the_render_late(sora: Harness):
    sora.reset(time_scale=1.0)
    video = sora.create_video(prompt="a cartoon mouse [moderation]")
    sora.advance(30)  # 75 % of the 40 s render: still rendering
    assert sora.video(video["id"])["status"] == "in_progress"
    sora.advance(7)  # past 90 %
    failed = sora.video(video["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "moderation_blocked",
        "message": "Your request was blocked by our moderation system.",
    }
    assert 0 < failed["progress"] < 100
    error = error_of(sora.http.get(f"/v1/videos/{video['id']}/content"), 400)
    assert error["code"] == "video_failed"


def test_internal_error_token_fails_with_internal_error(sora: Harness):
    video = sora.create_video(prompt="[internal-error]")
    sora.finish_renders()
    assert sora.video(video["id"])["error"]["code"] == "internal_error"


def test_a_remix_prompt_is_screened_too(sora: Harness):
    original = sora.create_video()
    sora.finish_renders()
    response = sora.http.post(f"/v1/videos/{original['id']}/remix", json={"prompt": "[input-moderation]"})
    assert error_of(response, 400)["code"] == "moderation_blocked"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_magenta_reference_image_is_refused_as_input_moderation(sora: Harness, fmt: str):
    files = {"input_reference": ("face.img", image_bytes(720, 1280, fmt=fmt, colour=MAGENTA), "image/png")}
    error = error_of(sora.http.post("/v1/videos", data={"prompt": "animate"}, files=files), 400)
    assert (error["param"], error["code"]) == ("input_reference", "moderation_blocked")


def test_a_nearly_magenta_image_is_not_flagged(sora: Harness):
    files = {"input_reference": ("ok.png", image_bytes(720, 1280, colour=(220, 0, 255)), "image/png")}
    assert sora.http.post("/v1/videos", data={"prompt": "animate"}, files=files).status_code == 200


@pytest.mark.parametrize(
    ("prompt", "reason", "failed_in"),
    [("[input-moderation]", "input_moderation", "preprocessing"), ("[moderation]", "output_moderation", "processing")],
)
def test_jobs_api_reports_failure_reason(sora: Harness, prompt: str, reason: str, failed_in: str):
    sora.reset(time_scale=1.0)
    job = sora.create_job(prompt=prompt, n_seconds=4)  # a 40 s render
    sora.advance(4.5 if failed_in == "preprocessing" else 34.5)
    assert sora.job(job["id"])["status"] == failed_in
    sora.advance(4)
    failed = sora.job(job["id"])
    assert (failed["status"], failed["failure_reason"], failed["generations"]) == ("failed", reason, [])


def test_jobs_api_flags_a_magenta_inpaint_image(sora: Harness):
    data = {"prompt": "animate", "model": "sora", "width": "480", "height": "480"}
    data["inpaint_items"] = json.dumps([{"frame_index": 0, "type": "image", "file_name": "a.png"}])
    files = [("files", ("a.png", image_bytes(300, 200, colour=MAGENTA), "image/png"))]
    response = sora.http.post(f"{JOBS}/jobs", params=PREVIEW, data=data, files=files)
    assert response.status_code == 201, response.text
    sora.finish_renders()
    assert sora.job(response.json()["id"])["failure_reason"] == "input_moderation"
