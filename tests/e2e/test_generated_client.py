"""A Python client generated from the served OpenAPI document (openapi-python-client) starts a run and reads it back
typed: the document is one a client generator can use, and what the generated client sends is accepted."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

# Not "soraflow_client", the generator's name for it: that is the project's own client package.
PACKAGE = "generated_soraflow_client"


@pytest.fixture(scope="module")
def generated_client(soraflow_app, tmp_path_factory):
    """The generated client package, made from this app's /api/openapi.json into a temporary folder."""
    work = tmp_path_factory.mktemp("client")
    document = work / "openapi.json"
    document.write_bytes(httpx.get(f"{soraflow_app.url}/api/openapi.json", timeout=30).raise_for_status().content)
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(
        [str(generator), "generate", "--path", str(document), "--meta", "none", "--output-path", str(work / PACKAGE)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # Every schema of the document became code: nothing was skipped as unparseable.
    assert "Unable to" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def operations(*names: str) -> list:
    """The generated modules of these operations (one module per operationId)."""
    return [importlib.import_module(f"{PACKAGE}.api.default.{name}") for name in names]


def test_the_generated_client_starts_a_run_and_reads_it_back_typed(soraflow_app, generated_client):
    start_video_run, get_video_run = operations("start_video_run", "get_video_run")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated_client.Client(base_url=f"{soraflow_app.url}/api", timeout=httpx.Timeout(60))
    request = models.SoraSora2Request(
        prompt="a lighthouse at dusk, waves below",
        model="sora-2",
        size=models.SoraSora2RequestSizeType0("1280x720"),
        seconds=models.SoraSora2RequestSecondsType0("4"),
        metadata=models.Metadata.from_dict({"ticket": "gen-1"}),
    )

    started = start_video_run.sync_detailed(client=client, body=request, idempotency_key="generated-client-1")

    assert started.status_code == 202, started.content
    run = started.parsed
    assert isinstance(run, models.Run)
    assert run.request["model"] == "sora-2" and run.request["size"] == "1280x720" and run.request["seconds"] == 4
    soraflow_app.wait(run.id)
    run = get_video_run.sync(id=run.id, client=client)
    assert isinstance(run, models.Run)
    assert run.status is models.RunStatus.COMPLETED, run
    assert run.progress == 100
    videos = [output for output in run.outputs if output.kind is models.OutputKind.VIDEO]
    assert len(videos) == 1 and videos[0].url.endswith("variant=video&index=0&source=generation")
    assert run.cost is not None and run.cost.seconds == 4


def test_the_generated_client_reads_the_problem_of_a_refused_request(soraflow_app, generated_client):
    (get_video_run,) = operations("get_video_run")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated_client.Client(base_url=f"{soraflow_app.url}/api", timeout=httpx.Timeout(60))

    missing = get_video_run.sync_detailed(id="run-doesnotexist0000", client=client)

    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Problem)
    assert [error.field for error in missing.parsed.errors] == ["id"]
