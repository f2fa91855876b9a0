"""The videos API (Sora 2): validation, errors, lifecycle, list, delete, remix and content, over real HTTP."""

from __future__ import annotations

import base64

import pytest

from tests.emulators.sora.conftest import Harness
from tests.media import image_bytes

VIDEO_FIELDS = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "size",
    "seconds",
    "remixed_from_video_id",
    "error",
}


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@pytest.mark.parametrize("prefix", ["/v1/videos", "/openai/v1/videos"])
def test_create_returns_a_queued_video_with_every_field(sora: Harness, prefix: str):
    response = sora.http.post(prefix, json={"prompt": "a cat on a motorcycle", "size": "1280x720", "seconds": "8"})
    assert response.status_code == 200, response.text
    video = response.json()
    assert set(video) == VIDEO_FIELDS
    assert video["id"].startswith("video_")
    assert video["object"] == "video"
    assert (video["status"], video["progress"]) == ("queued", 0)
    assert (video["model"], video["size"], video["seconds"]) == ("sora-2", "1280x720", "8")
    assert video["completed_at"] is None and video["expires_at"] is None and video["error"] is None
    assert int(response.headers["openai-poll-after-ms"]) > 0


def test_create_defaults_to_sora_2_portrait_four_seconds(sora: Harness):
    video = sora.create_video()
    assert (video["model"], video["size"], video["seconds"]) == ("sora-2", "720x1280", "4")


def test_seconds_as_a_json_integer_is_invalid_type_like_the_real_service(sora: Harness):
    error = error_of(sora.http.post("/v1/videos", json={"prompt": "x", "seconds": 8}), 400)
    assert error == {
        "message": "Invalid type for 'seconds': expected one of '4', '8', or '12', but got an integer instead.",
        "type": "invalid_request_error",
        "param": "seconds",
        "code": "invalid_type",
    }


@pytest.mark.parametrize("seconds", ["5", "16", "", "4.0", "four"])
def test_seconds_outside_the_enum_is_invalid_value(sora: Harness, seconds: str):
    error = error_of(sora.http.post("/v1/videos", json={"prompt": "x", "seconds": seconds}), 400)
    assert (error["param"], error["code"]) == ("seconds", "invalid_value")
    assert "'4', '8', and '12'" in error["message"]


@pytest.mark.parametrize("size", ["1024x1024", "1920x1080", "720X1280", "1792x1024"])
def test_sora_2_refuses_sizes_it_does_not_render(sora: Harness, size: str):
    error = error_of(sora.http.post("/v1/videos", json={"prompt": "x", "size": size}), 400)
    assert (error["param"], error["code"]) == ("size", "invalid_value")


@pytest.mark.parametrize("size", ["1024x1792", "1792x1024", "1280x720"])
def test_sora_2_pro_renders_the_tall_and_wide_sizes(sora: Harness, size: str):
    assert sora.create_video(model="sora-2-pro", size=size)["size"] == size


def test_unknown_model_is_invalid_value(sora: Harness):
    error = error_of(sora.http.post("/v1/videos", json={"prompt": "x", "model": "sora-3"}), 400)
    assert (error["param"], error["code"]) == ("model", "invalid_value")


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "prompt", "missing_required_parameter"),
        ({"prompt": ""}, "prompt", "string_below_min_length"),
        ({"prompt": "   "}, "prompt", "string_below_min_length"),
        ({"prompt": 42}, "prompt", "invalid_type"),
        ({"prompt": ["a"]}, "prompt", "invalid_type"),
        ({"prompt": "x" * 32_001}, "prompt", "string_above_max_length"),
        ({"prompt": "x", "size": 1280}, "size", "invalid_type"),
        ({"prompt": "x", "model": None}, "model", "invalid_type"),
        ({"prompt": "x", "seconds": None}, "seconds", "invalid_type"),
        ({"prompt": "x", "quality": "hd"}, "quality", "unknown_parameter"),
        ({"prompt": "x", "input_reference": "https://example.com/a.png"}, "input_reference", "invalid_type"),
    ],
)
def test_invalid_create_bodies_name_the_parameter(sora: Harness, body: dict, param: str, code: str):
    error = error_of(sora.http.post("/v1/videos", json=body), 400)
    assert (error["param"], error["code"]) == (param, code)
    assert sora.requests(operation="create")[-1]["status"] == 400


def test_a_prompt_of_exactly_32000_characters_is_accepted(sora: Harness):
    assert len(sora.create_video(prompt="y" * 32_000)["prompt"]) == 32_000


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b"\xff\xfe", "application/json")],
)
def test_malformed_json_is_a_400(sora: Harness, content: bytes, content_type: str):
    error = error_of(sora.http.post("/v1/videos", content=content, headers={"content-type": content_type}), 400)
    assert error["code"] == "invalid_json"


def test_multipart_create_with_a_matching_reference_image(sora: Harness):
    files = {"input_reference": ("ref.jpg", image_bytes(1280, 720, fmt="JPEG"), "image/jpeg")}
    data = {"prompt": "animate this", "size": "1280x720", "seconds": "4"}
    response = sora.http.post("/v1/videos", data=data, files=files)
    assert response.status_code == 200, response.text
    assert response.json()["size"] == "1280x720"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
def test_reference_image_formats_jpeg_png_webp_are_accepted(sora: Harness, fmt: str):
    files = {"input_reference": ("ref", image_bytes(720, 1280, fmt=fmt), f"image/{fmt.lower()}")}
    response = sora.http.post("/v1/videos", data={"prompt": "x"}, files=files)
    assert response.status_code == 200, response.text


def test_reference_image_of_other_dimensions_is_a_400_on_input_reference(sora: Harness):
    files = {"input_reference": ("ref.png", image_bytes(1280, 720), "image/png")}
    error = error_of(sora.http.post("/v1/videos", data={"prompt": "x", "size": "720x1280"}, files=files), 400)
    assert error["param"] == "input_reference"
    assert "1280x720" in error["message"] and "720x1280" in error["message"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"%PDF-1.7 not an image at all", "invalid_image"),
        (b"", "invalid_image"),
        (image_bytes(720, 1280, fmt="GIF"), "invalid_image_format"),
        (image_bytes(720, 1280)[:400], "invalid_image"),
        (b"\x89PNG" + b"\0" * (20 * 1024 * 1024), "file_too_large"),
    ],
    ids=["pdf", "empty", "gif", "truncated-png", "over-20mb"],
)
def test_hostile_or_wrong_reference_files_are_400s(sora: Harness, payload: bytes, code: str):
    files = {"input_reference": ("ref.png", payload, "image/png")}
    error = error_of(sora.http.post("/v1/videos", data={"prompt": "x"}, files=files), 400)
    assert (error["param"], error["code"]) == ("input_reference", code)


def test_decompression_bomb_header_is_refused_before_decoding(sora: Harness):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # A PNG announcing 100,000 x 100,000 pixels in a few dozen bytes.
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 1, 0, 0, 0, 0))
    bomb += chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    files = {"input_reference": ("bomb.png", bomb, "image/png")}
    error = error_of(sora.http.post("/v1/videos", data={"prompt": "x"}, files=files), 400)
    assert (error["param"], error["code"]) == ("input_reference", "invalid_image")


def test_input_reference_sent_as_a_string_field_is_invalid_type(sora: Harness):
    response = sora.http.post("/v1/videos", data={"prompt": "x", "input_reference": "ref.png"})
    error = error_of(response, 400)
    assert error["message"] == "Invalid type for 'input_reference': expected a file, but got a string instead."
    assert error["code"] == "invalid_type"


def test_two_reference_files_are_refused(sora: Harness):
    png = image_bytes(720, 1280)
    files = [("input_reference", ("a.png", png, "image/png")), ("input_reference", ("b.png", png, "image/png"))]
    error = error_of(sora.http.post("/v1/videos", data={"prompt": "x"}, files=files), 400)
    assert error["param"] == "input_reference"


def test_reference_as_a_base64_data_url_in_json(sora: Harness):
    url = "data:image/png;base64," + base64.b64encode(image_bytes(720, 1280)).decode()
    assert sora.create_video(input_reference={"image_url": url})["status"] == "queued"


@pytest.mark.parametrize(
    ("reference", "param"),
    [
        ({"image_url": "https://example.com/cat.png"}, "input_reference.image_url"),
        ({"image_url": "data:image/png;base64,!!!notbase64"}, "input_reference.image_url"),
        ({"file_id": "file_123"}, "input_reference.file_id"),
        ({"image_url": "data:image/png;base64,AA==", "file_id": "f"}, "input_reference"),
        ({"url": "x"}, "input_reference.url"),
    ],
)
def test_bad_reference_objects_are_400s(sora: Harness, reference: dict, param: str):
    error = error_of(sora.http.post("/v1/videos", json={"prompt": "x", "input_reference": reference}), 400)
    assert error["param"] == param


def test_lifecycle_queued_in_progress_completed_with_rising_progress(sora: Harness):
    sora.reset(time_scale=1.0)  # a 4 s video renders in 40 s of emulator time; the clock is moved by hand
    video = sora.create_video()
    seen = [(video["status"], video["progress"])]
    for step in (2, 4, 6, 10, 10, 6, 1.5):  # ends 39.5 s in, then past 40 s
        sora.advance(step)
        current = sora.video(video["id"])
        seen.append((current["status"], current["progress"]))
    sora.advance(1)
    done = sora.video(video["id"])
    seen.append((done["status"], done["progress"]))
    statuses = [s for s, _ in seen]
    progress = [p for _, p in seen]
    assert statuses[:2] == ["queued", "queued"]
    assert set(statuses[2:-1]) == {"in_progress"}
    assert statuses[-1] == "completed" and progress[-1] == 100
    assert progress == sorted(progress)
    assert all(0 < p < 100 for p in progress[3:-1])
    assert done["completed_at"] >= done["created_at"]
    assert done["expires_at"] == done["created_at"] + 86_400


def test_poll_hint_follows_the_render_time(sora: Harness):
    sora.reset(time_scale=1.0)
    short = sora.http.get(f"/v1/videos/{sora.create_video(seconds='4')['id']}")
    long = sora.http.get(f"/v1/videos/{sora.create_video(seconds='12')['id']}")
    assert int(short.headers["openai-poll-after-ms"]) < int(long.headers["openai-poll-after-ms"])


def test_unknown_video_ids_are_404_for_every_operation(sora: Harness):
    for method, path in [
        ("GET", "/v1/videos/video_unknown"),
        ("DELETE", "/openai/v1/videos/video_unknown"),
        ("GET", "/v1/videos/video_unknown/content"),
        ("POST", "/v1/videos/video_unknown/remix"),
        ("GET", "/v1/videos/" + "x" * 5000),
        ("GET", "/v1/videos/..%2F..%2Fetc%2Fpasswd/content"),
    ]:
        response = sora.http.request(method, path, json={"prompt": "x"} if method == "POST" else None)
        error = error_of(response, 404)
        assert error["code"] == "not_found", path


def test_unknown_routes_and_methods_answer_with_error_bodies(sora: Harness):
    assert error_of(sora.http.get("/v1/images"), 404)["code"] == "invalid_url"
    assert error_of(sora.http.put("/v1/videos"), 405)["code"] == "method_not_allowed"


def test_list_pages_newest_first_with_cursors(sora: Harness):
    ids = [sora.create_video()["id"] for _ in range(2)]
    sora.finish_renders()
    ids += [sora.create_video()["id"]]
    first = sora.http.get("/v1/videos", params={"limit": 2}).json()
    assert set(first) == {"object", "data", "first_id", "last_id", "has_more"}
    assert first["object"] == "list"
    assert [v["id"] for v in first["data"]] == ids[::-1][:2]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[2], ids[1], True)
    second = sora.http.get("/v1/videos", params={"limit": 2, "after": first["last_id"]}).json()
    assert [v["id"] for v in second["data"]] == [ids[0]]
    assert second["has_more"] is False
    ascending = sora.http.get("/v1/videos", params={"order": "asc"}).json()
    assert [v["id"] for v in ascending["data"]] == ids
    empty = sora.http.get("/v1/videos", params={"limit": 0}).json()
    assert (empty["data"], empty["first_id"], empty["last_id"], empty["has_more"]) == ([], None, None, True)


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": 101}, "limit"), ({"limit": -1}, "limit"), ({"limit": "ten"}, "limit"), ({"order": "up"}, "order")],
)
def test_list_rejects_bad_parameters(sora: Harness, params: dict, param: str):
    assert error_of(sora.http.get("/v1/videos", params=params), 400)["param"] == param


def test_list_with_an_unknown_cursor_is_a_400(sora: Harness):
    assert error_of(sora.http.get("/v1/videos", params={"after": "video_gone"}), 400)["param"] == "after"


def test_delete_answers_video_deleted_and_forgets_the_video(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    response = sora.http.delete(f"/openai/v1/videos/{video['id']}")
    assert response.status_code == 200
    assert response.json() == {"id": video["id"], "deleted": True, "object": "video.deleted"}
    assert sora.http.get(f"/v1/videos/{video['id']}").status_code == 404
    assert sora.http.get("/v1/videos").json()["data"] == []


def test_content_before_completion_is_video_not_ready(sora: Harness):
    sora.reset(time_scale=1.0)
    video = sora.create_video()
    error = error_of(sora.http.get(f"/v1/videos/{video['id']}/content"), 400)
    assert error["code"] == "video_not_ready"


def test_content_rejects_unknown_variants(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    error = error_of(sora.http.get(f"/v1/videos/{video['id']}/content", params={"variant": "gif"}), 400)
    assert (error["param"], error["code"]) == ("variant", "invalid_value")


def test_remix_makes_a_new_video_of_the_same_size_and_duration(sora: Harness):
    original = sora.create_video(size="1280x720", seconds="8")
    sora.finish_renders()
    response = sora.http.post(f"/v1/videos/{original['id']}/remix", json={"prompt": "now at night"})
    assert response.status_code == 200, response.text
    remix = response.json()
    assert remix["id"] != original["id"]
    assert remix["remixed_from_video_id"] == original["id"]
    assert (remix["size"], remix["seconds"], remix["prompt"]) == ("1280x720", "8", "now at night")
    assert remix["status"] == "queued"
    sora.finish_renders()
    assert sora.video(remix["id"])["status"] == "completed"


def test_remix_of_an_unfinished_video_is_refused(sora: Harness):
    sora.reset(time_scale=1.0)
    original = sora.create_video()
    error = error_of(sora.http.post(f"/v1/videos/{original['id']}/remix", json={"prompt": "again"}), 400)
    assert error["code"] == "video_not_ready"


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "missing_required_parameter"), ({"prompt": "x", "size": "1280x720"}, "unknown_parameter")],
)
def test_remix_validates_its_body(sora: Harness, body: dict, code: str):
    original = sora.create_video()
    sora.finish_renders()
    assert error_of(sora.http.post(f"/v1/videos/{original['id']}/remix", json=body), 400)["code"] == code


def test_remix_accepts_multipart_bodies(sora: Harness):
    original = sora.create_video()
    sora.finish_renders()
    response = sora.http.post(f"/v1/videos/{original['id']}/remix", data={"prompt": "in snow"}, files={"x": ("", b"")})
    assert error_of(response, 400)["code"] == "unknown_parameter"
    response = sora.http.post(f"/v1/videos/{original['id']}/remix", data={"prompt": "in snow"})
    assert response.status_code == 200, response.text


def test_a_body_over_64_mb_is_a_413(sora: Harness):
    files = {"input_reference": ("huge.png", b"\0" * (65 * 1024 * 1024), "image/png")}
    error = error_of(sora.http.post("/v1/videos", data={"prompt": "x"}, files=files), 413)
    assert error["code"] == "request_too_large"
    assert sora.requests(operation="create")[-1]["status"] == 413
