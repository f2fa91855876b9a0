"""The app boots with exactly the settings the README marks required: every function is indexed, and a JSON request
dropped into the default request container starts a run that completes.

The environment is built explicitly: every setting the README lists is removed from the inherited environment, so
no default is masked by a value left over from elsewhere. Its own Azurite keeps other modules' dropped files out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from emulators import processes
from soraflow.runs import run_id_for_blob

EMULATOR_KEY = "minimum-settings-key"
README = processes.REPO_ROOT / "README.md"


def readme_settings() -> dict[str, str]:
    """The README's Configuration table: setting name -> its default column."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([A-Za-z][A-Za-z0-9_]+)` \| ([^|]+?) \|", section, flags=re.MULTILINE))


def registered_functions() -> set[str]:
    """The functions function_app.py registers, indexed in a fresh interpreter with no settings at all."""
    script = (
        "import function_app, json\n"
        "print(json.dumps([f.get_function_name() for f in function_app.app.get_functions()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=processes.REPO_ROOT, env={}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def minimum_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[processes.Server, str]]:
    work = tmp_path_factory.mktemp("minimum")
    assert not (processes.REPO_ROOT / "local.settings.json").exists(), (
        "local.settings.json would add its values to the host's settings; this test needs exactly the required ones"
    )
    azurite = processes.start_azurite(work / "azurite", log_path=work / "azurite.log")
    sora = processes.start_sora_emulator(
        args=["--time-scale", "0.01", "--api-key", EMULATOR_KEY, "--media-cache", str(work / "media")],
        log_path=work / "sora.log",
    )
    connection = azurite.extra["connection_string"]
    required = {name for name, default in readme_settings().items() if default.strip() == "required"}
    settings = {
        "AzureWebJobsStorage": connection,
        "TASKHUB_NAME": "soraflow",
        "SORA_ENDPOINT": sora.url,
        "VIDEO_STORAGE": connection,
        # The provider credential the README asks for: a key, since no Entra identity exists here.
        "SORA_API_KEY": EMULATOR_KEY,
    }
    assert set(settings) == required | {"SORA_API_KEY"}, f"the README's required settings are {sorted(required)}"
    with pytest.MonkeyPatch.context() as environment:
        # spawn() starts from os.environ: nothing the README lists may come from there.
        for name in readme_settings():
            environment.delenv(name, raising=False)
        for name in [n for n in os.environ if n.startswith(("VIDEO_STORAGE__", "AzureWebJobsStorage__"))]:
            environment.delenv(name)
        host = processes.start_soraflow_host(work, settings)
    try:
        yield host, connection
    finally:
        host.stop()
        sora.stop()
        azurite.stop(timeout=2)


def wait_for_log(host: processes.Server, text: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = host.log_path.read_text(errors="replace")
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"the host never logged {text!r}\n{host.log_tail(60)}")


def test_every_registered_function_is_indexed(minimum_stack):
    host, _ = minimum_stack
    log = wait_for_log(host, "Host started on")
    banner = log.split("Functions:", 1)[1].split("Host started on", 1)[0]
    indexed = set(re.findall(r"^\s{8}(\w+): ", banner, flags=re.MULTILINE))
    assert indexed == registered_functions()
    assert "Error indexing" not in log


def test_a_json_request_dropped_into_the_default_container_starts_a_run_that_completes(minimum_stack):
    host, connection = minimum_stack
    service = BlobServiceClient.from_connection_string(connection)
    requests = service.get_container_client("video-requests")
    if not requests.exists():
        requests.create_container()
    name = f"minimum-{uuid.uuid4().hex[:8]}.json"
    uploaded = requests.upload_blob(name, json.dumps({"prompt": "a paper boat on a puddle", "seconds": "4"}))
    run_id = run_id_for_blob("video-requests", name, uploaded.get_blob_properties().etag)

    manifest = wait_for_manifest(service.get_container_client("videos"), run_id, host)

    assert manifest["status"] == "completed", manifest
    video = service.get_container_client("videos").get_blob_client(f"runs/{run_id}/video.mp4")
    assert video.download_blob().readall()[4:8] == b"ftyp"


def wait_for_manifest(outputs, run_id: str, host: processes.Server, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            manifest = json.loads(outputs.download_blob(f"runs/{run_id}/run.json").readall())
        except ResourceNotFoundError:
            manifest = None
        if manifest is not None and manifest.get("status") in ("completed", "failed", "cancelled"):
            return manifest
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} wrote no final manifest within {timeout:.0f} s\n{host.log_tail(60)}")
