"""The admin API: the request log, reset, imports, the clock and status."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.emulators.sora.conftest import JOBS, PREVIEW, Harness
from tests.emulators.sora.test_videos_api import error_of
from tests.media import image_bytes

LOG_FIELDS = {"id", "method", "path", "query", "api", "operation", "status", "time", "job_id", "fault", "uploads"}


def test_the_log_names_every_operation_of_both_apis(sora: Harness):
    video = sora.create_video()
    job = sora.create_job(n_seconds=1)
    sora.finish_renders()
    generation = sora.job(job["id"])["generations"][0]["id"]
    sora.http.get("/v1/videos")
    sora.http.get(f"{JOBS}/jobs", params=PREVIEW)
    sora.http.get(f"/v1/videos/{video['id']}/content", params={"variant": "thumbnail"})
    sora.http.get(f"{JOBS}/{generation}/content/thumbnail", params=PREVIEW)
    remix = sora.http.post(f"/openai/v1/videos/{video['id']}/remix", json={"prompt": "again"}).json()
    sora.http.delete(f"/v1/videos/{remix['id']}")
    sora.http.delete(f"{JOBS}/jobs/{job['id']}", params=PREVIEW)
    log = sora.requests()
    assert all(set(entry) == LOG_FIELDS for entry in log)
    summary = [(e["method"], e["api"], e["operation"], e["status"], e["job_id"]) for e in log]
    assert summary == [
        ("POST", "videos", "create", 200, video["id"]),
        ("POST", "jobs", "create", 201, job["id"]),
        ("GET", "jobs", "retrieve", 200, job["id"]),
        ("GET", "videos", "list", 200, None),
        ("GET", "jobs", "list", 200, None),
        ("GET", "videos", "content", 200, video["id"]),
        ("GET", "jobs", "content", 200, job["id"]),
        ("POST", "videos", "remix", 200, remix["id"]),
        ("DELETE", "videos", "delete", 200, remix["id"]),
        ("DELETE", "jobs", "delete", 204, job["id"]),
    ]
    assert log[4]["query"] == "api-version=preview"
    assert log[5]["path"] == f"/v1/videos/{video['id']}/content"
    times = [e["time"] for e in log]
    assert times == sorted(times)


def test_the_log_records_failures_and_unknown_paths(sora: Harness):
    sora.http.post("/v1/videos", json={"prompt": "x", "seconds": 8})
    sora.http.get("/v1/videos/video_missing", headers={"api-key": "wrong"})
    sora.http.get("/v2/whatever")
    log = sora.requests()
    assert [(e["operation"], e["status"]) for e in log] == [("create", 400), ("retrieve", 401), (None, 404)]


def uploaded(field: str, filename: str, content_type: str, data: bytes) -> dict:
    """The log's record of one file part."""
    size, digest = len(data), hashlib.sha256(data).hexdigest()
    return {"field": field, "filename": filename, "content_type": content_type, "bytes": size, "sha256": digest}


def test_the_log_records_each_uploaded_file_by_its_digest(sora: Harness):
    reference, frame = image_bytes(1280, 720), image_bytes(480, 480, fmt="JPEG")
    fits = {"input_reference": ("ref.png", reference, "image/png")}
    sora.http.post("/v1/videos", data={"prompt": "animate this", "size": "1280x720"}, files=fits)
    wrong_size = {"input_reference": ("ref.png", frame, "image/png")}
    sora.http.post("/v1/videos", data={"prompt": "too small"}, files=wrong_size)
    form = {"prompt": "from this frame", "model": "sora", "width": "480", "height": "480"}
    form["inpaint_items"] = json.dumps([{"frame_index": 0, "type": "image", "file_name": "first.jpg"}])
    sora.http.post(f"{JOBS}/jobs", params=PREVIEW, data=form, files=[("files", ("first.jpg", frame, "image/jpeg"))])
    sora.http.post("/v1/videos", json={"prompt": "no file", "seconds": 8})  # a JSON body carries no file part

    log = sora.requests(operation="create")
    assert [(e["api"], e["status"], e["uploads"]) for e in log] == [
        ("videos", 200, [uploaded("input_reference", "ref.png", "image/png", reference)]),
        ("videos", 400, [uploaded("input_reference", "ref.png", "image/png", frame)]),  # what arrived, though refused
        ("jobs", 201, [uploaded("files", "first.jpg", "image/jpeg", frame)]),
        ("videos", 400, []),
    ]


def test_the_log_can_be_filtered(sora: Harness):
    sora.create_video()
    sora.http.get("/v1/videos")
    sora.http.post("/v1/videos", json={})
    assert [e["status"] for e in sora.requests(operation="create")] == [200, 400]
    assert [e["operation"] for e in sora.requests(status="400")] == ["create"]
    assert [e["operation"] for e in sora.requests(api="videos", method="GET")] == ["list"]


def test_admin_calls_are_not_logged_and_need_no_key(sora: Harness, sora_emulator):
    import httpx

    with httpx.Client(base_url=sora_emulator.url) as anonymous:
        assert anonymous.get("/_emulator/status").status_code == 200
        assert anonymous.get("/_emulator/requests").json() == {"requests": []}


def test_reset_drops_jobs_faults_and_the_log(sora: Harness):
    sora.create_video()
    sora.create_job()
    sora.add_fault(operation="list", kind="status", status=500, count=None)
    answer = sora.reset()
    assert answer["reset"] is True and answer["active_jobs"] == 0
    assert sora.admin("GET", "faults").json() == {"faults": []}
    assert sora.requests() == []
    assert sora.http.get("/v1/videos").json()["data"] == []
    assert sora.http.get(f"{JOBS}/jobs", params=PREVIEW).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "param"),
    [({"time_scale": 0}, "time_scale"), ({"max_concurrent_jobs": 0}, "max_concurrent_jobs"), ({"jobs": []}, "jobs")],
)
def test_reset_validates_overrides(sora: Harness, body: dict, param: str):
    assert error_of(sora.admin("POST", "reset", body), 400)["param"] == param


def test_status_describes_the_settings(sora: Harness):
    status = sora.admin("GET", "status").json()
    assert (status["time_scale"], status["max_concurrent_jobs"], status["api_key_required"]) == (0.02, 2, True)
    sora.reset(time_scale=1.0)
    sora.create_video()
    assert sora.admin("GET", "status").json()["active_jobs"] == 1


def test_time_advance_moves_the_clock_forward_only(sora: Harness):
    before = sora.admin("GET", "status").json()["now"]
    answer = sora.admin("POST", "time/advance", {"seconds": 3600}).json()
    assert answer["now"] >= before + 3600
    for body in ({"seconds": -5}, {}, {"seconds": "10"}, {"seconds": 0}):
        assert sora.admin("POST", "time/advance", body).status_code == 400


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "large.mp4"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def test_import_registers_a_completed_video_whose_content_is_the_file(sora: Harness, big_file: Path):
    response = sora.admin("POST", "videos/import", {"path": str(big_file), "size": "1920x1080", "seconds": "12"})
    assert response.status_code == 201, response.text
    video = response.json()
    assert (video["status"], video["progress"]) == ("completed", 100)
    assert (video["size"], video["seconds"]) == ("1920x1080", "12")
    with sora.http.stream("GET", f"/v1/videos/{video['id']}/content") as download:
        assert int(download.headers["content-length"]) == big_file.stat().st_size
        body = b"".join(download.iter_raw())
    assert hashlib.sha256(body).digest() == hashlib.sha256(big_file.read_bytes()).digest()
    assert sora.admin("GET", "status").json()["active_jobs"] == 0, "an import holds no concurrency slot"


def test_import_into_the_jobs_api(sora: Harness, big_file: Path):
    body = {"path": str(big_file), "size": "1280x720", "seconds": 5, "api": "jobs"}
    job = sora.admin("POST", "videos/import", body).json()
    assert (job["status"], job["width"], job["height"], job["n_seconds"]) == ("succeeded", 1280, 720, 5)
    generation = job["generations"][0]["id"]
    download = sora.http.get(f"{JOBS}/{generation}/content/video", params=PREVIEW)
    assert download.content == big_file.read_bytes()


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"path": None}, "path"),
        ({"path": "/definitely/not/here.mp4"}, "path"),
        ({"size": "big"}, "size"),
        ({"size": "0x100"}, "size"),
        ({"seconds": 0}, "seconds"),
        ({"seconds": "twelve"}, "seconds"),
        ({"api": "images"}, "api"),
        ({"extra": 1}, "extra"),
    ],
)
def test_import_validates_its_body(sora: Harness, big_file: Path, change: dict, param: str):
    body = {"path": str(big_file), "size": "1920x1080", "seconds": "12", **change}
    body = {k: v for k, v in body.items() if v is not None}
    assert error_of(sora.admin("POST", "videos/import", body), 400)["param"] == param


def test_import_of_a_directory_is_refused(sora: Harness, tmp_path: Path):
    body = {"path": str(tmp_path), "size": "1920x1080", "seconds": "12"}
    assert error_of(sora.admin("POST", "videos/import", body), 400)["param"] == "path"


def test_a_thumbnail_of_an_unreadable_import_is_a_500_media_error(sora: Harness, big_file: Path):
    video = sora.admin("POST", "videos/import", {"path": str(big_file), "size": "640x360", "seconds": "2"}).json()
    response = sora.http.get(f"/v1/videos/{video['id']}/content", params={"variant": "thumbnail"})
    assert error_of(response, 500)["code"] == "media_error"
    assert sora.http.get(f"/v1/videos/{video['id']}/content").status_code == 200, "the file itself is still served"
