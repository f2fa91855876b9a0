"""FAL_REFERENCE_TRANSPORT=url: the create activity sends fal a short-lived read-only SAS URL of the run's prepared
reference instead of its bytes, and the fal emulator fetches the image from Azurite through it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from activities import provider_jobs
from emulators import processes
from soraflow.config import Settings
from soraflow.providers.fal import fal_client
from soraflow.providers.registry import parse_request
from soraflow.storage import blob_store as blob_store_module
from soraflow.storage import output_store
from tests.media import image_bytes

FAL_KEY = "reference-url-fal-key"
KLING = "fal-ai/kling-video/v2.5-turbo/pro"
create_provider_job = provider_jobs.create_provider_job._function.get_user_function()


@pytest.fixture(scope="module")
def fal_emulator(tmp_path_factory) -> Iterator[processes.Server]:
    root = tmp_path_factory.mktemp("fal-reference-url")
    args = ["--time-scale", "0.02", "--api-key", FAL_KEY, "--media-cache", str(root / "media")]
    server = processes.start_fal_emulator(args=args, log_path=root / "fal.log")
    yield server
    server.stop()


@pytest.fixture
def env(fal_emulator, azurite_connection_string, monkeypatch) -> dict[str, str]:
    environment = {
        "FAL_KEY": FAL_KEY,
        "FAL_QUEUE_URL": fal_emulator.url,
        "FAL_REFERENCE_TRANSPORT": "url",
        "VIDEO_STORAGE": azurite_connection_string,
        "VIDEO_OUTPUT_CONTAINER": f"refurl{uuid.uuid4().hex[:12]}",
        "TASKHUB_NAME": "soraflow",
    }
    monkeypatch.setattr(blob_store_module, "_output_store", None)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("WEBSITE_HOSTNAME", raising=False)
    output_store().service_client().create_container(environment["VIDEO_OUTPUT_CONTAINER"])
    return environment


def prepared_reference(run_id: str, width: int = 900, height: int = 1600) -> dict:
    blob = f"runs/{run_id}/reference.png"
    output_store().upload_bytes(blob, image_bytes(width, height), content_type="image/png")
    return {"blob": blob}


def payload(run_id: str, reference: dict) -> dict:
    request = parse_request({"prompt": "the kite climbs", "model": KLING, "size": "1080x1920", "seconds": "5"},
                            Settings.from_env())  # fmt: skip
    return {"run_id": run_id, "request": request.to_dict(), "reference": reference}


def finished(job_id: str) -> object:
    client = fal_client(Settings.from_env())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get_job(job_id)
        if job.status.terminal:
            return job
        time.sleep(0.1)
    raise AssertionError(f"fal never finished {job_id}")


def test_the_models_say_their_reference_is_fetched_from_a_url(env):
    from soraflow.providers.fal import FalProvider

    caps = FalProvider().capabilities(KLING, Settings.from_env())
    assert caps.reference.transport == "url"


def test_the_url_is_read_only_short_lived_and_serves_the_prepared_image(env):
    reference = prepared_reference("run-url-0001")
    spec = provider_jobs.with_reference(provider_jobs.JobSpec("p", KLING, 1080, 1920, 5), reference, as_url=True)
    image = spec.input_reference
    assert image.content == b"" and image.content_type == "image/png"
    query = parse_qs(urlsplit(image.url).query)
    assert query["sp"] == ["r"] and "se" in query
    assert httpx.get(image.url).content == output_store().open_read(reference["blob"]).read()
    refused = httpx.put(image.url, content=b"x", headers={"x-ms-blob-type": "BlockBlob"})
    assert refused.status_code == 403
    assert "sig=" not in repr(spec)  # the token never reaches a log line


def test_fal_renders_from_the_image_it_fetched_through_the_url(env):
    job = create_provider_job(payload("run-url-0002", prepared_reference("run-url-0002")))
    assert job["id"].startswith(f"{KLING}/image-to-video::")
    done = finished(job["id"])
    assert done.status.value == "succeeded", done


def test_a_url_fal_cannot_fetch_fails_the_job_as_fal_reports_it(env):
    reference = prepared_reference("run-url-0003")
    output_store().delete(reference["blob"])  # the URL now answers 404
    job = create_provider_job(payload("run-url-0003", reference))
    done = finished(job["id"])
    assert done.status.value == "failed"
    assert "download" in (done.error.message or "").lower(), done.error
