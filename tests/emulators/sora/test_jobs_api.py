"""The jobs API (Sora 1, Azure preview): api-version, validation, lifecycle, variants, list, delete, content."""

from __future__ import annotations

import json

import pytest

from tests.emulators.sora.conftest import JOBS, PREVIEW, Harness
from tests.emulators.sora.test_videos_api import error_of
from tests.media import image_bytes

JOB_FIELDS = {
    "object",
    "id",
    "status",
    "created_at",
    "finished_at",
    "expires_at",
    "generations",
    "prompt",
    "model",
    "n_variants",
    "n_seconds",
    "height",
    "width",
    "inpaint_items",
    "failure_reason",
}
BODY = {"prompt": "a rocket landing on mars", "model": "sora", "width": 480, "height": 480}


def post_job(sora: Harness, body: dict, **kwargs):
    return sora.http.post(f"{JOBS}/jobs", params=PREVIEW, json=body, **kwargs)


def test_create_answers_201_with_a_queued_job(sora: Harness):
    response = post_job(sora, {**BODY, "n_seconds": 5, "n_variants": 2})
    assert response.status_code == 201, response.text
    job = response.json()
    assert set(job) == JOB_FIELDS
    assert job["object"] == "video.generation.job" and job["id"].startswith("task_")
    assert (job["status"], job["generations"], job["failure_reason"]) == ("queued", [], None)
    assert (job["width"], job["height"], job["n_seconds"], job["n_variants"]) == (480, 480, 5, 2)
    assert job["finished_at"] is None and job["expires_at"] is None


def test_numbers_may_be_sent_as_strings_as_in_azures_samples(sora: Harness):
    job = sora.create_job(height="720", width="1280", n_seconds="12", n_variants="2")
    assert (job["width"], job["height"], job["n_seconds"], job["n_variants"]) == (1280, 720, 12, 2)


def test_defaults_are_five_seconds_and_one_variant(sora: Harness):
    job = sora.create_job()
    assert (job["n_seconds"], job["n_variants"]) == (5, 1)


@pytest.mark.parametrize(
    ("params", "code"),
    [({}, "missing_required_parameter"), ({"api-version": "2025-02-15-preview"}, "unsupported_api_version")],
)
def test_every_operation_requires_api_version_preview(sora: Harness, params: dict, code: str):
    job = sora.create_job()
    calls = [
        ("POST", f"{JOBS}/jobs"),
        ("GET", f"{JOBS}/jobs"),
        ("GET", f"{JOBS}/jobs/{job['id']}"),
        ("DELETE", f"{JOBS}/jobs/{job['id']}"),
        ("GET", f"{JOBS}/gen_x/content/video"),
        ("GET", f"{JOBS}/gen_x/content/thumbnail"),
    ]
    for method, path in calls:
        response = sora.http.request(method, path, params=params, json=BODY if method == "POST" else None)
        error = error_of(response, 400)
        assert (error["param"], error["code"]) == ("api-version", code), path
    assert sora.job(job["id"])["id"] == job["id"]


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"prompt": None}, "prompt", "missing_required_parameter"),
        ({"model": None}, "model", "missing_required_parameter"),
        ({"width": None}, "width", "missing_required_parameter"),
        ({"height": None}, "height", "missing_required_parameter"),
        ({"prompt": ""}, "prompt", "invalid_value"),
        ({"prompt": 7}, "prompt", "invalid_type"),
        ({"prompt": "p" * 32_001}, "prompt", "string_above_max_length"),
        ({"width": 1000, "height": 1000}, "width", "invalid_value"),
        ({"width": 720, "height": 480}, "width", "invalid_value"),
        ({"width": "480px"}, "width", "invalid_type"),
        ({"width": 480.0}, "width", "invalid_type"),
        ({"n_seconds": 0}, "n_seconds", "invalid_value"),
        ({"n_seconds": 21}, "n_seconds", "invalid_value"),
        ({"n_seconds": 1.5}, "n_seconds", "invalid_type"),
        ({"n_seconds": True}, "n_seconds", "invalid_type"),
        ({"n_seconds": "99999999999"}, "n_seconds", "invalid_type"),
        ({"n_variants": 0}, "n_variants", "invalid_value"),
        ({"n_variants": 5}, "n_variants", "invalid_value"),
        ({"width": 1920, "height": 1080, "n_variants": 2}, "n_variants", "invalid_value"),
        ({"width": 1080, "height": 1080, "n_variants": 2}, "n_variants", "invalid_value"),
        ({"width": 1280, "height": 720, "n_variants": 3}, "n_variants", "invalid_value"),
        ({"size": "480x480"}, "size", "unknown_parameter"),
        ({"inpaint_items": [{"type": "image"}]}, "inpaint_items[0].frame_index", "invalid_value"),
    ],
)
def test_invalid_creates_name_the_parameter(sora: Harness, change: dict, param: str, code: str):
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    error = error_of(post_job(sora, body), 400)
    assert (error["param"], error["code"]) == (param, code)


@pytest.mark.parametrize(
    ("width", "height", "variants"),
    [(480, 480, 4), (480, 854, 4), (854, 480, 4), (720, 720, 4), (720, 1280, 2), (1280, 720, 2), (1080, 1920, 1)],
)
def test_each_resolution_accepts_its_maximum_variants(sora: Harness, width: int, height: int, variants: int):
    sora.reset(max_concurrent_jobs=10)
    job = sora.create_job(width=width, height=height, n_variants=variants, n_seconds=20)
    assert (job["width"], job["height"], job["n_variants"]) == (width, height, variants)


def test_lifecycle_passes_through_every_status_to_succeeded_with_generations(sora: Harness):
    sora.reset(time_scale=1.0)  # n_seconds 4: a 40 s render, driven by moving the clock
    job = sora.create_job(n_seconds=4, n_variants=3)
    statuses = [job["status"]]
    for step in (2, 5, 10, 20, 4, 0.5):  # 2, 7, 17, 37, 41, 41.5 s
        sora.advance(step)
        statuses.append(sora.job(job["id"])["status"])
    assert statuses == ["queued", "queued", "preprocessing", "running", "processing", "succeeded", "succeeded"]
    done = sora.job(job["id"])
    assert len(done["generations"]) == 3
    assert len({g["id"] for g in done["generations"]}) == 3
    for generation in done["generations"]:
        assert generation["object"] == "video.generation" and generation["id"].startswith("gen_")
        assert generation["job_id"] == job["id"]
        assert (generation["width"], generation["height"], generation["n_seconds"]) == (480, 480, 4)
    assert done["finished_at"] >= done["created_at"]
    assert done["expires_at"] == done["finished_at"] + 86_400


def test_unknown_ids_are_404(sora: Harness):
    for method, path in [
        ("GET", f"{JOBS}/jobs/task_unknown"),
        ("DELETE", f"{JOBS}/jobs/task_unknown"),
        ("GET", f"{JOBS}/gen_unknown/content/video"),
        ("GET", f"{JOBS}/gen_unknown/content/thumbnail"),
    ]:
        assert error_of(sora.http.request(method, path, params=PREVIEW), 404)["code"] == "not_found"


def test_delete_answers_204_and_forgets_the_job_and_its_generations(sora: Harness):
    job = sora.create_job()
    sora.finish_renders()
    generation = sora.job(job["id"])["generations"][0]["id"]
    response = sora.http.delete(f"{JOBS}/jobs/{job['id']}", params=PREVIEW)
    assert (response.status_code, response.content) == (204, b"")
    assert sora.http.get(f"{JOBS}/jobs/{job['id']}", params=PREVIEW).status_code == 404
    assert sora.http.get(f"{JOBS}/{generation}/content/video", params=PREVIEW).status_code == 404


def test_list_newest_first_with_limit_cursors_and_status_filter(sora: Harness):
    sora.reset(max_concurrent_jobs=10, time_scale=1.0)
    first = sora.create_job()
    sora.finish_renders()
    failed = sora.create_job(prompt="[internal-error] a glitch")
    sora.finish_renders()
    running = sora.create_job()
    ids = [running["id"], failed["id"], first["id"]]

    def listing(**params) -> dict:
        response = sora.http.get(f"{JOBS}/jobs", params={**PREVIEW, **params})
        assert response.status_code == 200, response.text
        return response.json()

    page = listing()
    assert page["object"] == "list"
    assert [j["id"] for j in page["data"]] == ids and page["has_more"] is False
    assert (page["first_id"], page["last_id"]) == (ids[0], ids[-1])
    one = listing(limit=1)
    assert ([j["id"] for j in one["data"]], one["has_more"]) == (ids[:1], True)
    assert [j["id"] for j in listing(after=ids[0])["data"]] == ids[1:]
    assert [j["id"] for j in listing(before=ids[2])["data"]] == ids[:2]
    assert [j["id"] for j in listing(before=ids[2], limit=1)["data"]] == ids[1:2]
    assert [j["id"] for j in listing(statuses="succeeded")["data"]] == [first["id"]]
    assert [j["id"] for j in listing(statuses="failed,queued")["data"]] == ids[:2]


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"statuses": "done"}, "statuses"), ({"after": "x"}, "after")],
)
def test_list_rejects_bad_parameters(sora: Harness, params: dict, param: str):
    error = error_of(sora.http.get(f"{JOBS}/jobs", params={**PREVIEW, **params}), 400)
    assert error["param"] == param


def test_content_quality_must_be_high_or_low(sora: Harness):
    job = sora.create_job(n_seconds=1)
    sora.finish_renders()
    generation = sora.job(job["id"])["generations"][0]["id"]
    response = sora.http.get(f"{JOBS}/{generation}/content/video", params={**PREVIEW, "quality": "best"})
    assert error_of(response, 400)["param"] == "quality"


def inpaint_form(items: list, files: list[tuple[str, bytes, str]], **fields) -> tuple[dict, list]:
    data = {k: str(v) for k, v in {**BODY, **fields}.items()}
    data["inpaint_items"] = json.dumps(items)
    return data, [("files", file) for file in files]


def test_multipart_create_with_an_image_inpaint_item(sora: Harness):
    items = [
        {
            "frame_index": 0,
            "type": "image",
            "file_name": "first.png",
            "crop_bounds": {"left_fraction": 0, "top_fraction": 0, "right_fraction": 1, "bottom_fraction": 1},
        }
    ]
    data, files = inpaint_form(items, [("first.png", image_bytes(640, 480), "image/png")])
    response = sora.http.post(f"{JOBS}/jobs", params=PREVIEW, data=data, files=files)
    assert response.status_code == 201, response.text
    assert response.json()["inpaint_items"] == items


@pytest.mark.parametrize(
    ("items", "files", "param"),
    [
        ([{"frame_index": 0, "type": "image", "file_name": "missing.png"}], [], "inpaint_items[0].file_name"),
        ([{"frame_index": 0, "type": "audio", "file_name": "a.png"}], ["a.png"], "inpaint_items[0].type"),
        ([{"frame_index": -1, "type": "image", "file_name": "a.png"}], ["a.png"], "inpaint_items[0].frame_index"),
        (
            [{"frame_index": 0, "type": "image", "file_name": "a.png", "crop_bounds": {"left_fraction": 2}}],
            ["a.png"],
            "inpaint_items[0].crop_bounds",
        ),
        ([{"frame_index": 0, "type": "image", "file_name": n} for n in "abc"], ["a", "b", "c"], "inpaint_items"),
        ([{"frame_index": 0, "type": "image", "file_name": "a.png"}], ["a.png", "b.png"], "files"),
        ("not json", ["a.png"], "inpaint_items"),
        ({"frame_index": 0}, ["a.png"], "inpaint_items"),
    ],
)
def test_inpaint_items_are_validated_against_the_files(sora: Harness, items, files, param: str):
    data = {k: str(v) for k, v in BODY.items()}
    data["inpaint_items"] = items if isinstance(items, str) else json.dumps(items)
    parts = [("files", (name, image_bytes(64, 64), "image/png")) for name in files]
    response = sora.http.post(f"{JOBS}/jobs", params=PREVIEW, data=data, files=parts or None)
    assert error_of(response, 400)["param"] == param


def test_inpaint_files_must_be_images_or_mp4_videos(sora: Harness):
    items = [{"frame_index": 0, "type": "image", "file_name": "a.png"}]
    data, files = inpaint_form(items, [("a.png", b"GIF89a not really", "image/png")])
    response = sora.http.post(f"{JOBS}/jobs", params=PREVIEW, data=data, files=files)
    assert error_of(response, 400)["param"] == "files"
    items = [{"frame_index": 0, "type": "video", "file_name": "v.mp4"}]
    data, files = inpaint_form(items, [("v.mp4", b"\0\0\0\x18ftypmp42" + b"\0" * 64, "video/mp4")])
    assert sora.http.post(f"{JOBS}/jobs", params=PREVIEW, data=data, files=files).status_code == 201
    data, files = inpaint_form(items, [("v.mp4", b"plain text", "video/mp4")])
    response = sora.http.post(f"{JOBS}/jobs", params=PREVIEW, data=data, files=files)
    assert error_of(response, 400)["code"] == "invalid_video"


def test_files_without_inpaint_items_are_refused(sora: Harness):
    data = {k: str(v) for k, v in BODY.items()}
    files = [("files", ("a.png", image_bytes(64, 64), "image/png"))]
    response = sora.http.post(f"{JOBS}/jobs", params=PREVIEW, data=data, files=files)
    assert error_of(response, 400)["param"] == "inpaint_items"
