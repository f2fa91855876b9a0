"""Hostile and malformed request files dropped into the request container: each is answered by an error manifest.

`CASES` is the corpus (data, so the reliability report can count it). All files are uploaded at once; the app's
blob trigger must answer each with `runs/{id}/run.json` saying `failed` and naming the field, start no durable
instance, send nothing to the provider, store nothing else, and leave the dropped files exactly as they were.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest

from tests.e2e.hostile.conftest import OUTPUT_CONTAINER, REQUEST_CONTAINER
from tests.e2e.hostile.test_http_inputs import GIF, OTHER_CONTAINER, png

IGNORED = None  # the file is not a request at all: no manifest, nothing


@dataclass(frozen=True)
class HostileFile:
    """A file (and its sidecar) dropped into the request container, and the field its error manifest must name."""

    name: str
    blob: str  # the blob whose manifest answers the case
    data: bytes
    field: str | None
    metadata: tuple[tuple[str, str], ...] = ()
    sidecar: bytes | None = None  # uploaded as <image name>.json beside an image


def request(**fields) -> bytes:
    return json.dumps({"prompt": "a quiet harbour at night", **fields}).encode()


PICTURE = png(320, 180)
PROMPT = (("prompt", "waves roll in"),)

# fmt: off
CASES: list[HostileFile] = [
    HostileFile("json-truncated", "bad/truncated.json", b'{"prompt": "x', "body"),
    HostileFile("json-empty", "bad/empty.json", b"", "body"),
    HostileFile("json-array", "bad/array.json", b'[{"prompt": "x"}]', "body"),
    HostileFile("json-1.5-mib", "bad/huge.json", b'{"prompt": "' + b"x" * (1536 * 1024) + b'"}', "body"),
    HostileFile("json-not-utf8", "bad/latin1.json", b'{"prompt": "caf\xe9"}', "body"),
    HostileFile("json-duplicate-key", "bad/duplicate.json", b'{"prompt": "a", "prompt": "b"}', "prompt"),
    HostileFile("json-nan", "bad/nan.json", b'{"prompt": "x", "seconds": NaN}', "body"),
    HostileFile("json-nested", "bad/nested.json", b'{"m": ' * 3000 + b"1" + b"}" * 3000, "body"),
    HostileFile("json-unknown-field", "bad/unknown.json", request(style="noir"), "style"),
    HostileFile("json-prompt-missing", "bad/noprompt.json", b'{"seconds": 4}', "prompt"),
    HostileFile("json-reference-other-container", "bad/other.json",
                request(input_reference={"blob": f"{OTHER_CONTAINER}/key.png"}), "input_reference.blob"),
    HostileFile("json-reference-traversal", "bad/traversal.json",
                request(input_reference={"blob": f"{REQUEST_CONTAINER}/../{OTHER_CONTAINER}/key.png"}),
                "input_reference.blob"),
    HostileFile("json-reference-url", "bad/url.json",
                request(input_reference={"blob": "https://evil.example/x.png"}), "input_reference.blob"),
    HostileFile("json-reference-missing", "bad/missing.json",
                request(input_reference={"blob": f"{REQUEST_CONTAINER}/nowhere.png"}), "input_reference.blob"),
    HostileFile("json-reference-upload-key", "bad/upload.json",
                request(input_reference={"upload": f"{OUTPUT_CONTAINER}/x.png"}), "input_reference.upload"),
    HostileFile("json-callback-metadata-service", "bad/callback.json",
                request(callback_url="http://169.254.169.254/latest/meta-data"), "callback_url"),
    HostileFile("image-without-prompt", "img/lonely.png", PICTURE, "prompt"),
    HostileFile("image-blank-prompt", "img/blank.png", PICTURE, "prompt", metadata=(("prompt", "   "),)),
    HostileFile("image-sidecar-not-json", "img/cat.png", PICTURE, "body", sidecar=b"{oops"),
    HostileFile("image-sidecar-unknown-field", "img/dog.png", PICTURE, "style", sidecar=request(style="noir")),
    HostileFile("image-sidecar-array", "img/owl.png", PICTURE, "body", sidecar=b"[1, 2]"),
    HostileFile("text-named-png", "img/notes.png", b"meeting notes, not a picture", "input_reference.blob",
                metadata=PROMPT),
    HostileFile("gif-named-jpg", "img/anim.jpg", GIF, "input_reference.blob", metadata=PROMPT),
    HostileFile("png-over-20-mb", "img/huge.png", PICTURE + b"\0" * (21 * 1024 * 1024), "input_reference.blob",
                metadata=PROMPT),
    HostileFile("not-a-request-txt", "other/readme.txt", b"not a request", IGNORED),
    HostileFile("not-a-request-exe", "other/tool.exe", b"MZ\x90\x00", IGNORED),
]
# fmt: on


@dataclass
class Outcome:
    """What the stack did with the corpus: each blob's manifest, and the snapshots around the whole drop."""

    manifests: dict[str, dict]
    etags: dict[str, str]
    before: object
    after: object


def read_manifests(app) -> dict[str, dict]:
    """Every run manifest in the output container, by the request blob it answers."""
    found = {}
    container = app.blobs(OUTPUT_CONTAINER)
    for blob in container.list_blobs(name_starts_with="runs/"):
        if blob.name.endswith("/run.json"):
            manifest = json.loads(container.download_blob(blob.name).readall())
            origin = manifest.get("origin") or {}
            if origin.get("container") == REQUEST_CONTAINER:
                found[origin["blob"]] = manifest
    return found


@pytest.fixture(scope="module")
def outcome(hostile_app) -> Outcome:
    """Drop every file at once (ignored ones first) and wait until each request file has its manifest."""
    hostile_app.quiesce()
    requests = hostile_app.blobs(REQUEST_CONTAINER)
    before = hostile_app.snapshot()
    etags = {}
    for case in sorted(CASES, key=lambda c: c.field is not IGNORED):
        if case.sidecar is not None:
            sidecar = case.blob + ".json"
            client = requests.upload_blob(sidecar, case.sidecar, overwrite=True)
            etags[sidecar] = client.get_blob_properties().etag
        client = requests.upload_blob(case.blob, case.data, overwrite=True, metadata=dict(case.metadata) or None)
        etags[case.blob] = client.get_blob_properties().etag
    expected = {case.blob for case in CASES if case.field is not IGNORED}
    deadline = time.monotonic() + 60
    manifests = read_manifests(hostile_app)
    while not expected <= set(manifests) and time.monotonic() < deadline:
        time.sleep(0.25)
        manifests = read_manifests(hostile_app)
    missing = sorted(expected - set(manifests))
    assert not missing, f"no manifest for {missing}\n{hostile_app.host.log_tail()}"
    hostile_app.quiesce()
    return Outcome(manifests, etags, before, hostile_app.snapshot())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_hostile_file_gets_an_error_manifest_and_starts_nothing(hostile_app, outcome, case):
    if case.field is IGNORED:
        assert case.blob not in outcome.manifests
        return
    manifest = outcome.manifests[case.blob]
    assert manifest["status"] == "failed"
    assert manifest["outputs"] == []
    assert manifest["error"]["code"] == "invalid_request"
    assert manifest["error"]["errors"][0]["field"] == case.field, manifest["error"]
    assert manifest["id"] not in outcome.after.instances
    assert len(json.dumps(manifest)) < 8_192


def test_the_drop_created_no_provider_job_no_run_and_only_manifests(hostile_app, outcome):
    assert outcome.after.creates == outcome.before.creates
    assert outcome.after.instances == outcome.before.instances
    new = {(container, name) for container, name, _ in outcome.after.blobs - outcome.before.blobs}
    dropped = {(REQUEST_CONTAINER, name) for name in outcome.etags}
    manifests = {(OUTPUT_CONTAINER, f"runs/{m['id']}/run.json") for m in outcome.manifests.values()}
    assert new == dropped | manifests


def test_the_dropped_files_are_left_as_they_were(hostile_app, outcome):
    requests = hostile_app.blobs(REQUEST_CONTAINER)
    for name, etag in outcome.etags.items():
        assert requests.get_blob_client(name).get_blob_properties().etag == etag, name
