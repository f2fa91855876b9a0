"""With `storageUri` videos come back as `gcsUri`s, served by a minimal Cloud Storage JSON API on the emulator."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from tests.emulators.vertex.conftest import Harness, error_of, save
from tests.media import probe


def object_path(gcs_uri: str, *, download: bool = False) -> str:
    bucket, _, name = gcs_uri.removeprefix("gs://").partition("/")
    prefix = "/download/storage/v1" if download else "/storage/v1"
    return f"{prefix}/b/{bucket}/o/{quote(name, safe='')}"


def gcs_uris(vertex: Harness, name: str) -> list[str]:
    videos = vertex.finished(name)["response"]["videos"]
    assert all(set(v) == {"gcsUri", "mimeType"} and v["mimeType"] == "video/mp4" for v in videos)
    return [v["gcsUri"] for v in videos]


def test_videos_are_written_to_a_numbered_folder_under_the_storage_uri(vertex: Harness):
    uris = gcs_uris(vertex, vertex.create(storageUri="gs://my-bucket/renders/", sampleCount=2))
    pattern = re.compile(r"^gs://my-bucket/renders/(\d+)/sample_([01])\.mp4$")
    matches = [pattern.match(uri) for uri in uris]
    assert all(matches), uris
    assert len({m.group(1) for m in matches}) == 1
    assert [m.group(2) for m in matches] == ["0", "1"]


def test_an_object_downloads_as_a_real_mp4_from_both_paths(vertex: Harness, tmp_path: Path):
    [uri] = gcs_uris(vertex, vertex.create(storageUri="gs://my-bucket"))
    first = vertex.http.get(object_path(uri), params={"alt": "media"})
    second = vertex.http.get(object_path(uri, download=True), params={"alt": "media"})
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == "video/mp4"
    assert int(first.headers["content-length"]) == len(first.content)
    assert first.content == second.content
    info = probe(save(tmp_path, "gcs.mp4", first.content))
    assert (info.width, info.height, info.audio_codec) == (1280, 720, "aac")


def test_object_metadata_describes_the_video(vertex: Harness):
    [uri] = gcs_uris(vertex, vertex.create(storageUri="gs://my-bucket/out"))
    metadata = vertex.http.get(object_path(uri)).json()
    assert metadata["kind"] == "storage#object"
    assert f"gs://{metadata['bucket']}/{metadata['name']}" == uri
    assert metadata["contentType"] == "video/mp4"
    media = vertex.http.get(metadata["mediaLink"])
    assert media.status_code == 200 and len(media.content) == int(metadata["size"])


def test_a_reset_forgets_every_object(vertex: Harness):
    [uri] = gcs_uris(vertex, vertex.create(storageUri="gs://my-bucket/out"))
    assert vertex.http.get(object_path(uri), params={"alt": "media"}).status_code == 200
    vertex.reset()
    response = vertex.http.get(object_path(uri), params={"alt": "media"})
    assert error_of(response, 404)["errors"][0]["reason"] == "notFound"


def test_an_unknown_object_is_not_found_in_cloud_storage_shape(vertex: Harness):
    response = vertex.http.get("/storage/v1/b/my-bucket/o/nothing.mp4", params={"alt": "media"})
    error = error_of(response, 404)
    assert error["message"] == "No such object: my-bucket/nothing.mp4"
    assert error["errors"] == [{"message": error["message"], "domain": "global", "reason": "notFound"}]


def test_objects_are_gone_after_the_retention(vertex: Harness):
    vertex.reset(time_scale=1.0)
    [uri] = gcs_uris(vertex, vertex.create(storageUri="gs://my-bucket/out"))
    assert vertex.http.get(object_path(uri), params={"alt": "media"}).status_code == 200
    vertex.advance(2 * 24 * 3600)
    assert vertex.http.get(object_path(uri), params={"alt": "media"}).status_code == 404


def test_storage_calls_are_logged_as_content_or_metadata(vertex: Harness):
    [uri] = gcs_uris(vertex, vertex.create(storageUri="gs://my-bucket/out"))
    vertex.http.get(object_path(uri))
    vertex.http.get(object_path(uri), params={"alt": "media"})
    calls = vertex.requests(api="storage")
    assert [(e["operation"], e["status"]) for e in calls] == [("metadata", 200), ("content", 200)]
    assert calls[0]["job_id"] == calls[1]["job_id"] is not None
