"""Hostile and malformed HTTP requests: each gets a clear 4xx, and nothing changes.

`CASES` is the corpus, kept as data so the reliability report can count it. Each case is sent to the app on the local
host; the answer must be the expected status and, when the app (not the host) answered, a problem+json body that
names the field and stays short. Around every case the test reads Azurite, the durable instances and the Sora
emulator's request log: a rejected request starts no run, stores no blob and creates no provider job.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass, field

import pytest
from azure.storage.blob import BlobServiceClient
from PIL import Image

from tests.e2e.hostile.conftest import OUTPUT_CONTAINER, REQUEST_CONTAINER

OTHER_CONTAINER = "hostile-secrets"
MAX_PROBLEM_BYTES = 8_192  # a problem body that echoes a hostile input must still stay small
HOST = None  # the host answered before any function ran: no problem body to read


@dataclass(frozen=True)
class HostileRequest:
    """One hostile or malformed HTTP request and the answer it must get."""

    name: str
    method: str
    path: str  # under /api; "{run}" is a completed run's id
    status: int | tuple[int, ...]
    field: str | None  # the field the problem names first; HOST when the host answers by itself
    json: object = None
    content: bytes | None = None
    headers: tuple[tuple[str, str | bytes], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    multipart: tuple[tuple[str, bytes, str | None, str], ...] | None = None  # (name, value, filename, type)
    tags: tuple[str, ...] = field(default=())


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge picture (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + data


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
VALID_PNG = png(64, 36)
JSON = (("content-type", "application/json"),)


def body(**fields) -> dict:
    return {"prompt": "a calm lake at dawn", **fields}


def ref(blob: str) -> dict:
    return body(input_reference={"blob": blob})


def start(name, status, field, tags=("body",), **kwargs) -> HostileRequest:
    return HostileRequest(name, "POST", "videos", status, field, tags=tags, **kwargs)


def raw(name, data: bytes, status, field, content_type="application/json") -> HostileRequest:
    return start(name, status, field, content=data, headers=(("content-type", content_type),))


# fmt: off
CASES: list[HostileRequest] = [
    # --- the JSON body ---
    raw("json-truncated", b'{"prompt": "x"', 400, "body"),
    raw("json-empty", b"", 400, "body"),
    raw("json-only-whitespace", b" \r\n\t ", 400, "body"),
    raw("json-array", b'["prompt", "x"]', 400, "body"),
    raw("json-string", b'"a video please"', 400, "body"),
    raw("json-null", b"null", 400, "body"),
    raw("json-duplicate-key", b'{"prompt": "a cat", "prompt": "a dog"}', 400, "prompt"),
    raw("json-nan", b'{"prompt": "x", "seconds": NaN}', 400, "body"),
    raw("json-infinity", b'{"prompt": "x", "seconds": -Infinity}', 400, "body"),
    raw("json-number-5000-digits", b'{"prompt": "x", "seconds": ' + b"9" * 5000 + b"}", 400, "body"),
    raw("json-nested-5000-deep", b'{"prompt": "x", "metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, 400, "body"),
    raw("json-array-nested-100000-deep", b"[" * 100_000 + b"]" * 100_000, 400, "body"),
    raw("json-not-utf8", b'{"prompt": "\xff\xfe caf\xe9"}', 400, "body"),
    raw("json-utf16", '{"prompt": "x"}'.encode("utf-16"), 400, "body"),
    raw("json-2-mib", b'{"prompt": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413, "body"),
    raw("json-lone-surrogate", b'{"prompt": "\\ud800 ghost"}', 400, "prompt"),
    raw("json-nul-in-prompt", b'{"prompt": "a\\u0000b"}', 400, "prompt"),
    start("prompt-missing", 400, "prompt", json={"model": "sora-2"}),
    start("prompt-number", 400, "prompt", json={"prompt": 42}),
    start("prompt-object", 400, "prompt", json={"prompt": {"text": "x"}}),
    start("prompt-whitespace", 400, "prompt", json={"prompt": " \n\t "}),
    start("prompt-32001-chars", 400, "prompt", json={"prompt": "p" * 32_001}),
    start("prompt-escape-sequences", 400, "prompt", json={"prompt": "red \x1b[31mpanda\x1b[0m"}),
    start("unknown-field", 400, "style", json=body(style="noir")),
    start("unknown-fields-1000", 400, "f0", json=body(**{f"f{n}": n for n in range(1000)})),
    start("unknown-field-hostile-name", 400, "x" * 60 + "…", json=body(**{"x" * 5000: 1})),
    start("provider-field-name", 400, "n_seconds", json=body(n_seconds=8)),
    start("seconds-list", 400, "seconds", json=body(seconds=[4])),
    start("seconds-fraction", 400, "seconds", json=body(seconds="4.5")),
    start("seconds-negative", 400, "seconds", json=body(seconds=-4)),
    start("seconds-bool", 400, "seconds", json=body(seconds=True)),
    start("size-huge", 400, "size", json=body(size="99999x99999")),
    start("size-injection", 400, "size", json=body(size="1280x720; rm -rf /")),
    start("model-traversal", 400, "model", json=body(model="../../etc/passwd")),
    start("variants-on-videos-api", 400, "variants", json=body(variants=2)),
    start("metadata-list", 400, "metadata", json=body(metadata=["a"])),
    start("metadata-17-keys", 400, "metadata", json=body(metadata={f"k{n}": "v" for n in range(17)})),
    start("metadata-value-600", 400, "metadata.k", json=body(metadata={"k": "v" * 600})),
    start("metadata-value-number", 400, "metadata.k", json=body(metadata={"k": 1})),
    start("metadata-key-control", 400, "metadata", json=body(metadata={"a\x07b": "v"})),
    start("remix-string", 400, "remix", json=body(remix="make it rain")),
    start("remix-unknown-key", 400, "remix.seconds", json=body(remix={"prompt": "x", "seconds": 8})),
    # --- references that would reach other containers, accounts or the network ---
    start("reference-url-string", 400, "input_reference", json=body(input_reference="https://evil.example/x.png"),
          tags=("reference", "network")),
    start("reference-url-key", 400, "input_reference", json=body(input_reference={"url": "https://evil.example/x"}),
          tags=("reference", "network")),
    start("reference-blob-https-url", 400, "input_reference.blob", json=ref("https://evil.example/x.png"),
          tags=("reference", "network")),
    start("reference-blob-file-url", 400, "input_reference.blob", json=ref("file:///etc/passwd"),
          tags=("reference", "network")),
    start("reference-blob-other-account-url", 400, "input_reference.blob",
          json=ref(f"https://otheraccount.blob.core.windows.net/{OUTPUT_CONTAINER}/x.png"),
          tags=("reference", "network")),
    start("reference-traversal", 400, "input_reference.blob",
          json=ref(f"{REQUEST_CONTAINER}/../{OTHER_CONTAINER}/key.png"), tags=("reference", "traversal")),
    start("reference-encoded-traversal", 400, "input_reference.blob",
          json=ref(f"{REQUEST_CONTAINER}/%2e%2e/{OTHER_CONTAINER}/key.png"), tags=("reference", "traversal")),
    start("reference-encoded-slash", 400, "input_reference.blob",
          json=ref(f"{REQUEST_CONTAINER}/a%2f..%2f..%2f{OTHER_CONTAINER}%2fkey.png"), tags=("reference", "traversal")),
    start("reference-backslash", 400, "input_reference.blob",
          json=ref(f"{REQUEST_CONTAINER}\\..\\{OTHER_CONTAINER}\\key.png"), tags=("reference", "traversal")),
    start("reference-leading-slash", 400, "input_reference.blob", json=ref(f"/{OTHER_CONTAINER}/key.png"),
          tags=("reference", "traversal")),
    start("reference-other-container", 400, "input_reference.blob", json=ref(f"{OTHER_CONTAINER}/key.png"),
          tags=("reference", "container")),
    start("reference-other-account", 400, "input_reference.blob",
          json=ref(f"otheraccount/{OUTPUT_CONTAINER}/x.png"), tags=("reference", "container")),
    start("reference-account-qualified", 400, "input_reference.blob",
          json=ref(f"devstoreaccount1/{OTHER_CONTAINER}/key.png"), tags=("reference", "container")),
    start("reference-taskhub-container", 400, "input_reference.blob", json=ref("azure-webjobs-hosts/locks/x"),
          tags=("reference", "container")),
    start("reference-missing-blob", 400, "input_reference.blob", json=ref(f"{OUTPUT_CONTAINER}/refs/missing.png"),
          tags=("reference",)),
    start("reference-not-an-image", 400, "input_reference.blob", json=ref(f"{OUTPUT_CONTAINER}/refs/notes.png"),
          tags=("reference",)),
    start("reference-gif", 400, "input_reference.blob", json=ref(f"{OUTPUT_CONTAINER}/refs/anim.gif"),
          tags=("reference",)),
    start("reference-over-20-mb", 400, "input_reference.blob", json=ref(f"{OUTPUT_CONTAINER}/refs/huge.png"),
          tags=("reference",)),
    start("reference-upload-key", 400, "input_reference.upload",
          json=body(input_reference={"upload": f"{OUTPUT_CONTAINER}/runs/x/upload.png"}), tags=("reference",)),
    start("reference-run-traversal", 400, "input_reference.run", json=body(input_reference={"run": "../x"}),
          tags=("reference", "traversal")),
    start("reference-run-unknown", 400, "input_reference.run",
          json=body(input_reference={"run": "run-doesnotexist0000"}), tags=("reference",)),
    start("reference-run-foreign-id", 400, "input_reference.run", json=body(input_reference={"run": "Other.Run:1"}),
          tags=("reference",)),
    # --- callback URLs the app would call ---
    start("callback-file", 400, "callback_url", json=body(callback_url="file:///etc/passwd"), tags=("network",)),
    start("callback-gopher", 400, "callback_url", json=body(callback_url="gopher://evil.example:70/_x"),
          tags=("network",)),
    start("callback-javascript", 400, "callback_url", json=body(callback_url="javascript:alert(1)"),
          tags=("network",)),
    start("callback-credentials", 400, "callback_url", json=body(callback_url="https://user:pw@hooks.example/x"),
          tags=("network", "secret")),
    start("callback-metadata-service", 400, "callback_url",
          json=body(callback_url="http://169.254.169.254/metadata/identity/oauth2/token"), tags=("network",)),
    start("callback-metadata-decimal", 400, "callback_url", json=body(callback_url="http://2852039166/latest"),
          tags=("network",)),
    start("callback-metadata-hex", 400, "callback_url", json=body(callback_url="http://0xa9fea9fe/latest"),
          tags=("network",)),
    start("callback-metadata-ipv6-mapped", 400, "callback_url",
          json=body(callback_url="http://[::ffff:169.254.169.254]/latest"), tags=("network",)),
    start("callback-link-local-ipv6", 400, "callback_url", json=body(callback_url="http://[fe80::1]/hook"),
          tags=("network",)),
    start("callback-unspecified", 400, "callback_url", json=body(callback_url="http://0.0.0.0:8080/hook"),
          tags=("network",)),
    start("callback-header-injection", 400, "callback_url",
          json=body(callback_url="https://hooks.example/x\r\nX-Injected: 1"), tags=("network",)),
    start("callback-3000-chars", 400, "callback_url", json=body(callback_url="https://h.example/" + "a" * 3000),
          tags=("network",)),
    # --- content types and headers ---
    raw("content-type-text", b'{"prompt": "x"}', 415, "Content-Type", content_type="text/plain"),
    raw("content-type-form", b"prompt=x", 415, "Content-Type", content_type="application/x-www-form-urlencoded"),
    raw("content-type-xml", b"<prompt>x</prompt>", 415, "Content-Type", content_type="application/xml"),
    raw("content-type-latin1", b'{"prompt": "caf\xe9"}', 415, "Content-Type",
        content_type="application/json; charset=latin-1"),
    raw("multipart-without-boundary", b"prompt=x", 400, "Content-Type", content_type="multipart/form-data"),
    raw("multipart-garbage", b"\x00\x01garbage--", 400, "prompt", content_type="multipart/form-data; boundary=zz"),
    start("content-type-twice", (400, 415), HOST, json=body(),
          headers=(("content-type", "application/json"), ("content-type", "text/plain")), tags=("header",)),
    start("header-20-kb", (400, 431), HOST, json=body(), headers=(("x-padding", "a" * 20_000),), tags=("header",)),
    start("idempotency-key-empty", 400, "Idempotency-Key", json=body(), headers=(("idempotency-key", ""),),
          tags=("header",)),
    start("idempotency-key-256", 400, "Idempotency-Key", json=body(), headers=(("idempotency-key", "k" * 256),),
          tags=("header",)),
    start("idempotency-key-non-ascii", 400, "Idempotency-Key", json=body(),
          headers=(("idempotency-key", "caf\u00e9".encode()),), tags=("header",)),
    start("idempotency-key-twice", 400, "Idempotency-Key", json=body(),
          headers=(("idempotency-key", "a"), ("idempotency-key", "b")), tags=("header",)),
    # --- multipart uploads ---
    start("upload-not-an-image", 400, "input_reference", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"), ("input_reference", b"plain text", "a.png", "image/png"))),
    start("upload-gif", 400, "input_reference", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"), ("input_reference", GIF, "a.png", "image/png"))),
    start("upload-svg-script", 400, "input_reference", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"), ("input_reference", SVG, "a.png", "image/png"))),
    start("upload-pixel-bomb", 400, "input_reference", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"),
                     ("input_reference", png_declaring(100_000, 100_000), "bomb.png", "image/png"))),
    start("upload-over-21-mib", 413, "body", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"),
                     ("input_reference", VALID_PNG + b"\0" * (22 * 1024 * 1024), "big.png", "image/png"))),
    start("upload-extra-file", 400, "script", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"), ("input_reference", VALID_PNG, "a.png", "image/png"),
                     ("script", b"#!/bin/sh", "run.sh", "text/x-sh"))),
    start("upload-two-images", 400, "input_reference", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"), ("input_reference", VALID_PNG, "a.png", "image/png"),
                     ("input_reference", VALID_PNG, "b.png", "image/png"))),
    start("upload-and-blob-reference", 400, "input_reference", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"), ("input_reference", b"refs/x.png", None, "text/plain"),
                     ("input_reference", VALID_PNG, "a.png", "image/png"))),
    start("upload-prompt-twice", 400, "prompt", tags=("upload",),
          multipart=(("prompt", b"a cat", None, "text/plain"), ("prompt", b"a dog", None, "text/plain"))),
    start("upload-prompt-as-file", 400, "prompt", tags=("upload",),
          multipart=(("prompt", b"x", "prompt.txt", "text/plain"),)),
    start("upload-metadata-not-json", 400, "metadata", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"), ("metadata", b"{not json", None, "text/plain"))),
    start("upload-unknown-field", 400, "style", tags=("upload",),
          multipart=(("prompt", b"x", None, "text/plain"), ("style", b"noir", None, "text/plain"))),
    # --- route ids and query parameters ---
    HostileRequest("id-traversal", "GET", "videos/..%2F..%2Fetc%2Fpasswd", 404, HOST, tags=("route",)),
    HostileRequest("id-5000-chars", "GET", "videos/" + "r" * 5000, 404, "id", tags=("route",)),
    HostileRequest("id-nul", "GET", "videos/run-%00%00%00%00", 404, "id", tags=("route",)),
    HostileRequest("id-newline", "GET", "videos/run-%0Aabcdefgh", 404, "id", tags=("route",)),
    HostileRequest("id-unknown", "GET", "videos/run-doesnotexist0000", 404, "id", tags=("route",)),
    HostileRequest("id-other-instance", "GET", "videos/@quota@videos", 404, "id", tags=("route",)),
    HostileRequest("delete-traversal", "DELETE", "videos/..%2Fvideos", 404, HOST, tags=("route",)),
    HostileRequest("delete-unknown", "DELETE", "videos/run-doesnotexist0000", 404, "id", tags=("route",)),
    HostileRequest("cancel-5000-chars", "POST", "videos/" + "c" * 5000 + "/cancel", 404, "id", tags=("route",)),
    HostileRequest("content-traversal", "GET", "videos/..%2F..%2F/content", 404, HOST, tags=("route",)),
    HostileRequest("content-variant-traversal", "GET", "videos/{run}/content", 400, "variant",
                   params=(("variant", "../../run.json"),), tags=("query",)),
    HostileRequest("content-index-negative", "GET", "videos/{run}/content", 400, "index", params=(("index", "-1"),),
                   tags=("query",)),
    HostileRequest("content-index-17", "GET", "videos/{run}/content", 400, "index", params=(("index", "17"),),
                   tags=("query",)),
    HostileRequest("content-index-superscript", "GET", "videos/{run}/content", 400, "index",
                   params=(("index", "\u00b2"),), tags=("query",)),
    HostileRequest("content-index-20-digits", "GET", "videos/{run}/content", 400, "index",
                   params=(("index", "9" * 20),), tags=("query",)),
    HostileRequest("content-stream-yes", "GET", "videos/{run}/content", 400, "stream", params=(("stream", "yes"),),
                   tags=("query",)),
    HostileRequest("content-source-other", "GET", "videos/{run}/content", 400, "source",
                   params=(("source", "https://evil.example"),), tags=("query",)),
    HostileRequest("list-limit-0", "GET", "videos", 400, "limit", params=(("limit", "0"),), tags=("query",)),
    HostileRequest("list-limit-101", "GET", "videos", 400, "limit", params=(("limit", "101"),), tags=("query",)),
    HostileRequest("list-limit-negative", "GET", "videos", 400, "limit", params=(("limit", "-1"),), tags=("query",)),
    HostileRequest("list-limit-float", "GET", "videos", 400, "limit", params=(("limit", "1e3"),), tags=("query",)),
    HostileRequest("list-limit-superscript", "GET", "videos", 400, "limit", params=(("limit", "\u00b2"),),
                   tags=("query",)),
    HostileRequest("list-limit-arabic-digits", "GET", "videos", 400, "limit", params=(("limit", "\u0661\u0660"),),
                   tags=("query",)),
    HostileRequest("list-limit-5000-digits", "GET", "videos", 400, "limit", params=(("limit", "9" * 5000),),
                   tags=("query",)),
    HostileRequest("list-limit-twice", "GET", "videos", 400, "limit", params=(("limit", "1"), ("limit", "2")),
                   tags=("query",)),
    HostileRequest("list-status-unknown", "GET", "videos", 400, "status", params=(("status", "x" * 3000),),
                   tags=("query",)),
    HostileRequest("list-continuation-garbage", "GET", "videos", 400, "continuation",
                   params=(("continuation", "!!not-a-token!!"),), tags=("query",)),
    HostileRequest("list-continuation-json-object", "GET", "videos", 400, "continuation",
                   params=(("continuation", "eyJhIjogMX0"),), tags=("query",)),
    # --- remix of a completed run ---
    HostileRequest("remix-truncated-json", "POST", "videos/{run}/remix", 400, "body", content=b'{"prompt": ',
                   headers=JSON, tags=("body",)),
    HostileRequest("remix-text-plain", "POST", "videos/{run}/remix", 415, "Content-Type", content=b"make it rain",
                   headers=(("content-type", "text/plain"),), tags=("body",)),
    HostileRequest("remix-2-mib", "POST", "videos/{run}/remix", 413, "body",
                   content=b'{"prompt": "' + b"x" * (2 * 1024 * 1024) + b'"}', headers=JSON, tags=("body",)),
    HostileRequest("remix-unknown-field", "POST", "videos/{run}/remix", 400, "model",
                   json={"prompt": "x", "model": "sora-2-pro"}, tags=("body",)),
    HostileRequest("remix-empty-prompt", "POST", "videos/{run}/remix", 400, "prompt", json={"prompt": ""},
                   tags=("body",)),
    HostileRequest("remix-callback-file", "POST", "videos/{run}/remix", 400, "callback_url",
                   json={"prompt": "x", "callback_url": "file:///etc/passwd"}, tags=("network",)),
    HostileRequest("remix-idempotency-key-twice", "POST", "videos/{run}/remix", 400, "Idempotency-Key",
                   json={"prompt": "x"}, headers=(("idempotency-key", "a"), ("idempotency-key", "b")),
                   tags=("header",)),
]
# fmt: on


def multipart_body(parts: tuple[tuple[str, bytes, str | None, str], ...]) -> tuple[bytes, str]:
    """A multipart/form-data body built by hand, so a test can repeat fields and mix files with text."""
    boundary = "hostile-boundary-7f3a"
    chunks = []
    for name, value, filename, content_type in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
        chunks.append(head.encode() + value + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def send(app, case: HostileRequest, run_id: str):
    headers = list(case.headers)
    content = case.content
    if case.multipart is not None:
        content, content_type = multipart_body(case.multipart)
        headers.append(("content-type", content_type))
    elif case.json is not None:
        content = json.dumps(case.json).encode()
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("content-type", "application/json"))
    url = f"{app.url}/api/{case.path.replace('{run}', run_id)}"
    headers.append(("x-functions-key", app.http.headers["x-functions-key"]))
    return app.http.request(case.method, url, content=content, headers=headers, params=list(case.params))


@pytest.fixture(scope="module")
def completed_run(hostile_app) -> str:
    """A finished run the content and remix cases aim at; the stack is quiet afterwards."""
    run = hostile_app.run(prompt="a lighthouse in fog", seconds=4)
    assert run["status"] == "completed", run
    hostile_app.quiesce()
    return run["id"]


@pytest.fixture(scope="module")
def reference_blobs(hostile_app) -> None:
    """Blobs the reference cases name: a text file and a GIF named like images, a 21 MB file, and a real image in a
    container the app is not configured to read. They go in the output container: the request container's blob trigger
    would answer each with an error manifest while the cases run."""
    service = BlobServiceClient.from_connection_string(hostile_app.connection_string)
    outputs = service.get_container_client(OUTPUT_CONTAINER)
    outputs.upload_blob("refs/notes.png", b"meeting notes, not a picture", overwrite=True)
    outputs.upload_blob("refs/anim.gif", GIF, overwrite=True)
    outputs.upload_blob("refs/huge.png", VALID_PNG + b"\0" * (21 * 1024 * 1024), overwrite=True)
    other = service.get_container_client(OTHER_CONTAINER)
    if not other.exists():
        other.create_container()
    other.upload_blob("key.png", png(1280, 720), overwrite=True)
    hostile_app.quiesce()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_hostile_request_gets_a_clear_error_and_changes_nothing(hostile_app, completed_run, reference_blobs, case):
    before = hostile_app.snapshot()
    response = send(hostile_app, case, completed_run)
    after = hostile_app.snapshot()

    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert response.status_code in expected, f"{case.name}: {response.status_code} {response.text[:500]}"
    assert after.changes_since(before) == [], case.name
    if case.field is HOST:
        return
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["detail"] and problem["title"]
    assert problem["errors"][0]["field"] == case.field, problem
    assert len(response.content) <= MAX_PROBLEM_BYTES, f"{case.name}: a {len(response.content)}-byte problem"


def test_the_corpus_names_each_case_once():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 100
