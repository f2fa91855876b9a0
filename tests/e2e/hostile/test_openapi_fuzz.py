"""Schemathesis against the served /api/openapi.json on the local host, with every check and every phase.

The examples, coverage, fuzzing and stateful phases run through the schemathesis CLI, bounded in examples per
operation and in time. Every check is on (`--checks all`): among them, schema-valid requests must be accepted and
schema-violating ones refused, so the document and the validator cannot drift apart without this test failing.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.conftest import FUNCTION_KEY
from tests.e2e.hostile.conftest import ORCHESTRATOR, REQUEST_CONTAINER, RUNNING

MAX_EXAMPLES = 15
MAX_SECONDS = 80
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
# The allow-list: checks of what only the Functions host answers, before any function runs, each with its reason.
HOST_ANSWERS = {
    "unsupported_method": "the host answers a method no function binds with 404 itself (on Azure too), not a 405",
}


@pytest.fixture(scope="module", autouse=True)
def stop_fuzzed_runs(hostile_app):
    """Fuzzed POSTs start real runs; cancel those still live afterwards, so later modules do not wait on them."""
    yield
    for instance in hostile_app.durable_instances():
        if instance.get("name") == ORCHESTRATOR and instance["runtimeStatus"] in RUNNING:
            hostile_app.http.post(f"{hostile_app.url}/api/videos/{instance['instanceId']}/cancel")
    hostile_app.quiesce()


@pytest.fixture(scope="module")
def references(hostile_app, tmp_path_factory) -> dict[str, str]:
    """A real reference image (a blob and the file) and a real completed run, for schema-valid references."""
    image = io.BytesIO()
    Image.new("RGB", (64, 36), (40, 120, 200)).save(image, "PNG")
    png = tmp_path_factory.mktemp("fuzz") / "reference.png"
    png.write_bytes(image.getvalue())
    blob = "fuzz/reference.png"
    hostile_app.service.get_blob_client(REQUEST_CONTAINER, blob).upload_blob(image.getvalue(), overwrite=True)
    run = hostile_app.run(prompt="a paper plane over a city", seconds=4)
    assert run["status"] == "completed", run
    hostile_app.run(prompt="a second run, so the list has a second page", seconds=4)
    page = hostile_app.http.get(f"{hostile_app.url}/api/videos", params={"limit": 1}).json()
    assert page["has_more"], page
    return {"SOFT_FUZZ_BLOB": f"{REQUEST_CONTAINER}/{blob}", "SOFT_FUZZ_RUN": run["id"], "SOFT_FUZZ_PNG": str(png),
            "SOFT_FUZZ_CONTINUATION": page["continuation"]}  # fmt: skip


def test_schemathesis_finds_nothing_with_every_check_and_phase(hostile_app, references, tmp_path):
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run"),
        f"{hostile_app.url}/api/openapi.json",
        *("--url", f"{hostile_app.url}/api"),
        *("--header", f"x-functions-key: {FUNCTION_KEY}"),
        *("--checks", "all", "--exclude-checks", ",".join(HOST_ANSWERS)),
        *("--phases", "examples,coverage,fuzzing,stateful"),
        *("--max-examples", str(MAX_EXAMPLES), "--seed", "1", "--generation-database", "none"),
        *("--workers", "1", "--request-timeout", "30", "--no-color"),
        *("--report", "junit", "--report-dir", str(tmp_path / "report")),
    ]
    environment = {**os.environ, **references, "SCHEMATHESIS_HOOKS": str(HOOKS)}
    log = tmp_path / "schemathesis.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True, env=environment,
                                   cwd=tmp_path)  # fmt: skip
        try:
            returncode = process.wait(timeout=MAX_SECONDS + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
    report = log.read_text()
    assert returncode == 0, report[-30_000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):  # each ran and passed, none was skipped
        assert f"✅  {phase}" in report, report[-30_000:]
