"""Image-to-video: a reference image by multipart upload, by blob path, and as a frame of an earlier run."""

import io

from azure.storage.blob import BlobServiceClient
from PIL import Image

from tests.media import image_bytes, probe


def stored_reference(app, run_id: str) -> Image.Image:
    data = app.blobs().download_blob(f"runs/{run_id}/reference.png").readall()
    return Image.open(io.BytesIO(data))


def create_requests(app) -> list[dict]:
    return [r for r in app.sora_requests(operation="create") if r["status"] < 300]


def test_multipart_upload_of_the_wrong_size_is_fitted_and_sent(soraflow_app, tmp_path):
    before = len(create_requests(soraflow_app))
    photo = image_bytes(1000, 1000, fmt="JPEG")  # square: the video is 720x1280
    response = soraflow_app.post_video(
        data={"prompt": "the horses jump the fence", "seconds": "4", "size": "720x1280"},
        files={"input_reference": ("horses.jpg", photo, "image/jpeg")},
    )
    assert response.status_code == 202, response.text
    run = soraflow_app.wait(response.json()["id"])
    assert run["status"] == "completed", run
    assert run["request"]["input_reference"]["upload"].endswith(f"runs/{run['id']}/upload.jpg")
    assert stored_reference(soraflow_app, run["id"]).size == (720, 1280)
    # The emulator rejects a reference whose size differs from the video's: it accepted this one.
    assert len(create_requests(soraflow_app)) == before + 1
    video = next(o for o in run["outputs"] if o["kind"] == "video")
    media = probe(soraflow_app.download_blob(video["blob"], tmp_path / "v.mp4"))
    assert (media.width, media.height) == (720, 1280)


def test_blob_path_reference_is_read_from_the_request_container(soraflow_app):
    service = BlobServiceClient.from_connection_string(soraflow_app.connection_string)
    container = service.get_container_client("video-requests")
    if not container.exists():
        container.create_container()
    container.upload_blob("refs/landscape.png", image_bytes(1600, 900), overwrite=True)
    run = soraflow_app.run(prompt="clouds drift over the hills", size="1280x720",
                           input_reference={"blob": "video-requests/refs/landscape.png", "fit": "contain"})  # fmt: skip
    assert run["status"] == "completed", run
    assert stored_reference(soraflow_app, run["id"]).size == (1280, 720)


def test_frame_of_a_previous_run_anchors_the_next(soraflow_app):
    first = soraflow_app.run(prompt="a paper boat on a pond", size="1280x720")
    assert first["status"] == "completed", first
    second = soraflow_app.run(prompt="the boat sails on", size="1280x720",
                              input_reference={"run": first["id"], "at_seconds": 1.0})  # fmt: skip
    assert second["status"] == "completed", second
    assert stored_reference(soraflow_app, second["id"]).size == (1280, 720)


def test_a_non_image_upload_is_a_400_and_starts_nothing(soraflow_app):
    before = len(soraflow_app.sora_requests(operation="create"))
    response = soraflow_app.post_video(
        data={"prompt": "x"}, files={"input_reference": ("notes.png", b"plain text, not a PNG", "image/png")}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "input_reference"
    assert len(soraflow_app.sora_requests(operation="create")) == before


def test_a_reference_outside_the_allowed_containers_is_refused(soraflow_app):
    response = soraflow_app.post_video({"prompt": "x", "input_reference": {"blob": "secrets/key.png"}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("input_reference")
