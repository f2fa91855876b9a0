"""BlobStore against real Azurite: streamed uploads, all-or-nothing commits, manifests, deletes and read URLs."""

from __future__ import annotations

import hashlib
import logging
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from emulators.processes import free_port
from soraflow.errors import ConfigurationError, RequestValidationError
from soraflow.storage import (
    BlobNotFoundError,
    BlobStore,
    BlobStoreError,
    BlobTooLargeError,
    IncompleteDownloadError,
    InvalidBlobContentError,
    InvalidBlobNameError,
    resolve_connection,
    run_blob,
)
from soraflow.storage.connection import DEV_ACCOUNT_KEY

MiB = 1024 * 1024


@pytest.fixture
def container() -> str:
    return f"t{uuid.uuid4().hex[:16]}"


@pytest.fixture
def store(azurite_connection_string: str, container: str) -> Iterator[BlobStore]:
    store = BlobStore(resolve_connection(env={"VIDEO_STORAGE": azurite_connection_string}), container)
    yield store
    store.close()


def pattern(size: int, *, chunk: int = MiB, seed: int = 0) -> Iterator[bytes]:
    """`size` bytes that differ per position and seed, so a block written twice or out of order shows."""
    block = hashlib.sha256(str(seed).encode()).digest() * (chunk // 32 + 1)
    sent = 0
    index = 0
    while sent < size:
        piece = (index.to_bytes(4, "big") + block)[: min(chunk, size - sent)]
        yield piece
        sent += len(piece)
        index += 1


def digest(chunks) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


def block_list(store: BlobStore, name: str, which: str):
    committed, uncommitted = store.container_client().get_blob_client(name).get_block_list(which)
    return committed, uncommitted


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes, Message]:
    request = urllib.request.Request(url, method=method, data=data)
    if data is not None:
        request.add_header("x-ms-blob-type", "BlockBlob")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


# --- streaming uploads --------------------------------------------------------------------------------------------


def test_upload_stream_commits_a_multi_block_stream_with_content_type_and_metadata(store: BlobStore):
    size = 20 * MiB + 12345
    stored = store.upload_stream(
        "runs/r1/video.mp4",
        pattern(size, chunk=300_000),
        content_type="video/mp4",
        expected_size=size,
        metadata={"run_id": "r1", "source": "generation"},
    )

    assert stored.bytes == size
    assert stored.sha256 == digest(pattern(size, chunk=300_000))
    committed, _ = block_list(store, "runs/r1/video.mp4", "committed")
    assert len(committed) == 6  # five full 4 MiB blocks and the rest
    reader = store.open_read("runs/r1/video.mp4")
    assert reader.blob.bytes == size
    assert reader.blob.content_type == "video/mp4"
    assert reader.blob.metadata == {"run_id": "r1", "source": "generation"}
    assert reader.blob.md5 == stored.md5  # Content-MD5 was set at commit
    assert digest(reader) == stored.sha256
    assert store.find("runs/r1/video.mp4") is not None


def test_upload_stream_without_expected_size_commits_whatever_arrived(store: BlobStore):
    stored = store.upload_stream("a/b.bin", pattern(5 * MiB), content_type="application/octet-stream")
    assert stored.bytes == 5 * MiB
    assert store.find("a/b.bin").bytes == 5 * MiB


def test_failure_mid_stream_leaves_no_blob(store: BlobStore):
    def broken() -> Iterator[bytes]:
        yield from pattern(9 * MiB)
        raise ConnectionResetError("provider hung up")

    with pytest.raises(ConnectionResetError):
        store.upload_stream("runs/r2/video.mp4", broken(), content_type="video/mp4", expected_size=20 * MiB)

    assert store.find("runs/r2/video.mp4") is None
    assert store.find("runs/r2/video.mp4") is None
    # The blocks did reach the service; they are simply never committed (the service garbage-collects them).
    _, uncommitted = block_list(store, "runs/r2/video.mp4", "uncommitted")
    assert len(uncommitted) >= 2


def test_fewer_bytes_than_expected_raises_a_retryable_error_and_leaves_no_blob(store: BlobStore):
    with pytest.raises(IncompleteDownloadError) as caught:
        store.upload_stream("runs/r3/video.mp4", pattern(6 * MiB), content_type="video/mp4", expected_size=7 * MiB)

    assert caught.value.retryable is True
    assert caught.value.code == "incomplete_download"
    assert (caught.value.expected, caught.value.received) == (7 * MiB, 6 * MiB)
    assert store.find("runs/r3/video.mp4") is None


def test_more_bytes_than_expected_is_refused_and_leaves_no_blob(store: BlobStore):
    with pytest.raises(IncompleteDownloadError) as caught:
        store.upload_stream("runs/r4/video.mp4", pattern(6 * MiB), content_type="video/mp4", expected_size=5 * MiB)

    assert "more than" in caught.value.message
    assert store.find("runs/r4/video.mp4") is None


def test_an_existing_blob_is_replaced_only_when_the_new_upload_succeeds(store: BlobStore):
    name = "runs/r5/video.mp4"
    first = store.upload_stream(name, pattern(5 * MiB, seed=1), content_type="video/mp4", expected_size=5 * MiB)

    with pytest.raises(IncompleteDownloadError):
        store.upload_stream(name, pattern(5 * MiB, seed=2), content_type="video/mp4", expected_size=6 * MiB)
    assert digest(store.open_read(name)) == first.sha256

    def broken() -> Iterator[bytes]:
        yield from pattern(5 * MiB, seed=3)
        raise TimeoutError("read timed out")

    with pytest.raises(TimeoutError):
        store.upload_stream(name, broken(), content_type="video/mp4")
    assert digest(store.open_read(name)) == first.sha256

    second = store.upload_stream(name, pattern(3 * MiB, seed=4), content_type="video/webm", metadata={"take": "2"})
    reader = store.open_read(name)
    assert digest(reader) == second.sha256 != first.sha256
    assert (reader.blob.bytes, reader.blob.content_type, reader.blob.metadata) == (3 * MiB, "video/webm", {"take": "2"})


def test_an_empty_stream_writes_an_empty_blob(store: BlobStore):
    stored = store.upload_stream("runs/r6/empty.bin", iter([b"", b""]), content_type="video/mp4", expected_size=0)
    assert stored.bytes == 0
    assert stored.md5 == hashlib.md5(b"").hexdigest()
    assert store.open_read("runs/r6/empty.bin").read() == b""


def test_an_empty_stream_when_bytes_were_announced_is_incomplete(store: BlobStore):
    with pytest.raises(IncompleteDownloadError):
        store.upload_stream("runs/r7/video.mp4", iter([]), content_type="video/mp4", expected_size=10)
    assert store.find("runs/r7/video.mp4") is None


def test_chunks_that_are_not_bytes_are_refused_and_leave_no_blob(store: BlobStore):
    with pytest.raises(TypeError):
        store.upload_stream("runs/r8/video.mp4", iter([b"ok", "text"]), content_type="video/mp4")
    assert store.find("runs/r8/video.mp4") is None


def test_bytearray_and_memoryview_chunks_are_accepted(store: BlobStore):
    stored = store.upload_stream("x.bin", [bytearray(b"ab"), memoryview(b"cd"), b"ef"], content_type="text/plain")
    assert store.open_read("x.bin").read() == b"abcdef"
    assert stored.bytes == 6


@pytest.mark.parametrize("expected_size", [-1, 1.5, "10", True])
def test_a_malformed_expected_size_is_refused(store: BlobStore, expected_size):
    with pytest.raises(ValueError):
        store.upload_stream("x.bin", [b"abc"], content_type="video/mp4", expected_size=expected_size)


@pytest.mark.parametrize(
    "content_type", ["", "video", "video/mp4\r\nx-ms-meta-evil: 1", "vidéo/mp4", None, "a/" + "b" * 300]
)
def test_a_hostile_content_type_is_refused(store: BlobStore, content_type):
    with pytest.raises(RequestValidationError) as caught:
        store.upload_stream("x.bin", [b"abc"], content_type=content_type)
    assert caught.value.errors[0].field == "content_type"
    assert store.find("x.bin") is None


@pytest.mark.parametrize(
    "metadata, field",
    [
        ({"bad-key": "x"}, "metadata.bad-key"),
        ({"1st": "x"}, "metadata.1st"),
        ({"prompt": "line\r\nx-ms-meta-evil: 1"}, "metadata.prompt"),
        ({"prompt": "café"}, "metadata.prompt"),
        ({"prompt": " padded"}, "metadata.prompt"),
        ({"n": 3}, "metadata.n"),
        ({"big": "x" * 9000}, "metadata"),
    ],
)
def test_hostile_metadata_is_refused(store: BlobStore, metadata, field):
    with pytest.raises(RequestValidationError) as caught:
        store.upload_stream("x.bin", [b"abc"], content_type="video/mp4", metadata=metadata)
    assert [e.field for e in caught.value.errors] == [field]
    assert store.find("x.bin") is None


def test_uploading_64_mib_holds_only_a_few_blocks_in_memory(store: BlobStore):
    chunk = bytes(range(256)) * 256  # 64 KiB, shared: the source itself costs nothing per chunk
    count = 64 * MiB // len(chunk)

    tracemalloc.start()
    try:
        stored = store.upload_stream("big.bin", (chunk for _ in range(count)), content_type="video/mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.bytes == 64 * MiB
    # The fill buffer plus `max_concurrency` (2) blocks in flight: three blocks, whatever the stream's length.
    assert peak < 3 * store.block_size + 2 * MiB, f"peak {peak / MiB:.1f} MiB"


# --- small blobs, JSON and manifests ------------------------------------------------------------------------------


def test_upload_bytes_writes_a_small_blob_in_one_piece(store: BlobStore):
    stored = store.upload_bytes("runs/r9/thumbnail.webp", b"RIFF....WEBP", content_type="image/webp")
    assert store.find("runs/r9/thumbnail.webp").md5 == stored.md5 == hashlib.md5(b"RIFF....WEBP").hexdigest()
    assert store.open_read("runs/r9/thumbnail.webp").read() == b"RIFF....WEBP"


def test_the_manifest_round_trips(store: BlobStore):
    manifest = {"id": "run-1", "status": "completed", "prompt": "un chat qui danse 🐈", "outputs": [{"bytes": 1}]}
    stored = store.write_manifest("run-1", manifest)

    assert stored.blob == "runs/run-1/run.json"
    assert stored.content_type == "application/json"
    assert store.read_json("runs/run-1/run.json") == manifest
    manifest["status"] = "deleted"
    store.write_manifest("run-1", manifest)
    assert store.read_json("runs/run-1/run.json")["status"] == "deleted"


def test_a_missing_manifest_is_not_found(store: BlobStore):
    with pytest.raises(BlobNotFoundError):
        store.read_json(run_blob("never-ran", "run.json"))


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe{}"])
def test_a_corrupt_manifest_is_reported_not_returned(store: BlobStore, body: bytes):
    store.upload_bytes(run_blob("run-2", "run.json"), body, content_type="application/json")
    with pytest.raises(InvalidBlobContentError):
        store.read_json(run_blob("run-2", "run.json"))


def test_an_oversized_json_blob_is_not_read_into_memory(store: BlobStore):
    store.upload_stream("huge.json", pattern(3 * MiB), content_type="application/json")
    with pytest.raises(BlobTooLargeError):
        store.read_json("huge.json", max_bytes=MiB)


def test_reading_a_missing_blob_raises_not_found(store: BlobStore):
    with pytest.raises(BlobNotFoundError) as caught:
        store.open_read("runs/nope/video.mp4")
    assert caught.value.retryable is False
    with pytest.raises(BlobNotFoundError):
        store.read_json("runs/nope/run.json")


def test_open_read_streams_in_block_sized_chunks(store: BlobStore):
    store.upload_stream("runs/r10/video.mp4", pattern(10 * MiB), content_type="video/mp4")
    sizes = [len(c) for c in store.open_read("runs/r10/video.mp4")]
    assert sum(sizes) == 10 * MiB
    assert max(sizes) <= store.block_size


# --- listing and deleting -----------------------------------------------------------------------------------------


def test_delete_prefix_deletes_one_run_folder_and_nothing_else(store: BlobStore):
    for name in ("runs/abc/video.mp4", "runs/abc/remix/video.mp4", "runs/abc/run.json", "runs/abcd/video.mp4"):
        store.upload_bytes(name, b"x", content_type="video/mp4")

    assert store.delete_prefix("runs/abc") == 3

    assert [b.blob for b in store.list("runs/")] == ["runs/abcd/video.mp4"]
    assert store.delete_run("abcd") == 1
    assert store.list() == []
    assert store.delete_run("abcd") == 0


def test_list_returns_names_sizes_and_metadata(store: BlobStore):
    store.upload_bytes("runs/l1/b.jpg", b"12345", content_type="image/jpeg", metadata={"kind": "spritesheet"})
    store.upload_bytes("runs/l1/a.mp4", b"1", content_type="video/mp4")
    store.upload_bytes("other/c.mp4", b"1", content_type="video/mp4")

    listed = store.list("runs/l1/")

    assert [(b.blob, b.bytes, b.content_type) for b in listed] == [
        ("runs/l1/a.mp4", 1, "video/mp4"),
        ("runs/l1/b.jpg", 5, "image/jpeg"),
    ]
    assert listed[1].metadata == {"kind": "spritesheet"}
    assert listed[1].path == f"{store.container}/runs/l1/b.jpg"


@pytest.mark.parametrize("prefix", ["", "/", "../", "runs/../", "runs\\x/"])
def test_delete_prefix_refuses_an_empty_or_escaping_prefix(store: BlobStore, prefix: str):
    store.upload_bytes("runs/keep/video.mp4", b"x", content_type="video/mp4")
    with pytest.raises(InvalidBlobNameError):
        store.delete_prefix(prefix)
    assert store.find("runs/keep/video.mp4") is not None


# --- hostile names ------------------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "",
    "/etc/passwd",
    "../other-container/x",
    "runs/../../x",
    "runs/./x",
    "runs//x",
    "runs\\x",
    "runs/x/",
    "runs/x.",
    "runs/\x00x",
    "runs/\nx",
    "a" * 1025,
    "/".join("a" * 255),
    None,
    b"runs/x",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_hostile_blob_names_are_rejected_before_any_request(name):
    # No connection at all: a rejected name must never reach the service.
    store = BlobStore(lambda: pytest.fail("the store tried to connect"), "videos")
    for call in (
        lambda: store.upload_stream(name, [b"x"], content_type="video/mp4"),
        lambda: store.upload_bytes(name, b"x", content_type="video/mp4"),
        lambda: store.open_read(name),
        lambda: store.find(name),
        lambda: store.delete(name),
        lambda: store.read_url(name),
    ):
        with pytest.raises(InvalidBlobNameError):
            call()


@pytest.mark.parametrize("run_id", ["", "..", ".hidden", "a/b", "a\\b", "a b", "x" * 129, "é", None])
def test_hostile_run_ids_are_rejected(run_id):
    with pytest.raises(InvalidBlobNameError) as caught:
        run_blob(run_id, "video.mp4")
    assert caught.value.errors[0].field == "run_id"


@pytest.mark.parametrize("name", ["../run.json", "/run.json", "remix/../../x", "a\\b", ""])
def test_hostile_names_inside_a_run_are_rejected(name):
    with pytest.raises(InvalidBlobNameError) as caught:
        run_blob("run-1", name)
    assert caught.value.errors[0].field == "name"


def test_run_blob_names_a_file_in_the_run_folder():
    assert run_blob("0f3a-run", "video.mp4") == "runs/0f3a-run/video.mp4"
    assert run_blob("0f3a-run", "remix/video.mp4") == "runs/0f3a-run/remix/video.mp4"


def test_unicode_and_spaces_in_names_survive_the_round_trip(store: BlobStore):
    name = "runs/r11/vidéo finale #1?.mp4"
    store.upload_bytes(name, b"abc", content_type="video/mp4")
    assert [b.blob for b in store.list("runs/r11/")] == [name]
    assert fetch(store.read_url(name))[1] == b"abc"


# --- read URLs ----------------------------------------------------------------------------------------------------


def test_a_read_url_serves_the_blob_over_plain_http(store: BlobStore):
    store.upload_bytes("runs/u1/video.mp4", b"\x00\x00\x00\x18ftypmp42", content_type="video/mp4")
    before = datetime.now(UTC).replace(microsecond=0)
    url = store.read_url("runs/u1/video.mp4", ttl=timedelta(minutes=10))
    after = datetime.now(UTC)

    status, body, headers = fetch(url)
    assert status == 200
    assert body == b"\x00\x00\x00\x18ftypmp42"
    assert headers["Content-Type"] == "video/mp4"
    query = parse_qs(urlsplit(url).query)
    expiry = datetime.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(minutes=10) <= expiry + timedelta(seconds=1) and expiry <= after + timedelta(minutes=10)
    assert query["sp"] == ["r"]


def test_a_read_url_cannot_write_or_list(store: BlobStore):
    store.upload_bytes("runs/u2/video.mp4", b"original", content_type="video/mp4")
    url = store.read_url("runs/u2/video.mp4")

    assert fetch(url, method="PUT", data=b"overwritten")[0] == 403
    assert fetch(url, method="DELETE")[0] == 403
    assert store.open_read("runs/u2/video.mp4").read() == b"original"
    other = url.replace("runs/u2/video.mp4", "runs/u2/other.mp4")
    store.upload_bytes("runs/u2/other.mp4", b"secret", content_type="video/mp4")
    assert fetch(other)[0] == 403


def with_query(url: str, **changes: str | None) -> str:
    """`url` with query parameters replaced (or dropped when None), re-encoded the standard way."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_a_read_url_with_a_tampered_signature_is_refused(store: BlobStore):
    store.upload_bytes("runs/u3/video.mp4", b"abc", content_type="video/mp4")
    url = store.read_url("runs/u3/video.mp4")
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    tampered = ("A" if sig[0] != "A" else "B") + sig[1:]

    assert fetch(with_query(url, sig=sig))[0] == 200  # re-encoding alone changes nothing
    assert fetch(with_query(url, sig=tampered))[0] == 403
    assert fetch(with_query(url, sig=None))[0] in (401, 403)
    assert fetch(with_query(url, sp="rw"))[0] == 403  # widening the permission breaks the signature


def test_a_read_url_stops_working_after_its_ttl(store: BlobStore):
    store.upload_bytes("runs/u4/video.mp4", b"abc", content_type="video/mp4")
    url = store.read_url("runs/u4/video.mp4", ttl=timedelta(seconds=1))
    expiry = datetime.strptime(parse_qs(urlsplit(url).query)["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    # Wait until the service's clock (this machine's) is past the URL's expiry, then it must be refused.
    while datetime.now(UTC) <= expiry + timedelta(seconds=1):
        time.sleep(0.2)
    assert fetch(url)[0] == 403


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), timedelta(days=8), 60])
def test_a_read_url_ttl_out_of_range_is_refused(store: BlobStore, ttl):
    with pytest.raises(ValueError):
        store.read_url("runs/u5/video.mp4", ttl=ttl)


def test_no_sas_signature_is_logged(store: BlobStore, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    store.upload_bytes("runs/u6/video.mp4", b"abc", content_type="video/mp4")
    url = store.read_url("runs/u6/video.mp4")
    store.find("runs/u6/video.mp4")
    assert fetch(url)[0] == 200

    sig = parse_qs(urlsplit(url).query)["sig"][0]
    assert caplog.records, "expected the storage SDK to log at DEBUG"
    assert sig not in caplog.text
    assert urlencode({"sig": sig}) not in caplog.text


def test_a_sas_only_connection_cannot_sign_read_urls(azurite_connection_string: str):
    endpoint = next(p for p in azurite_connection_string.split(";") if p.startswith("BlobEndpoint="))
    connection = resolve_connection(env={"VIDEO_STORAGE": f"{endpoint};SharedAccessSignature=sv=2020-08-04&sig=x"})
    with pytest.raises(ConfigurationError) as caught:
        BlobStore(connection, "videos").read_url("runs/x/video.mp4")
    assert caught.value.setting == "VIDEO_STORAGE"


# --- configuration and failures -----------------------------------------------------------------------------------


def test_from_env_uses_the_settings_and_creates_the_container(azurite_connection_string: str, container: str):
    env = {"VIDEO_STORAGE": azurite_connection_string, "VIDEO_OUTPUT_CONTAINER": container}
    store = BlobStore.from_env(env)
    assert store.container == container

    store.write_manifest("env-run", {"ok": True})

    assert store.service_client().get_container_client(container).exists()
    assert store.read_json("runs/env-run/run.json") == {"ok": True}


def test_from_env_does_nothing_until_first_use():
    store = BlobStore.from_env({})  # no VIDEO_STORAGE at all
    with pytest.raises(ConfigurationError) as caught:
        store.find("runs/x/video.mp4")
    assert caught.value.setting == "VIDEO_STORAGE"


def test_from_env_rejects_a_malformed_container_name():
    with pytest.raises(ConfigurationError) as caught:
        BlobStore.from_env({"VIDEO_OUTPUT_CONTAINER": "Bad_Name"})
    assert caught.value.setting == "VIDEO_OUTPUT_CONTAINER"


def test_a_wrong_account_key_fails_with_a_storage_error_that_names_no_secret(
    azurite_connection_string: str, container: str
):
    wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
    parts = [p for p in azurite_connection_string.split(";") if p and not p.startswith("AccountKey=")]
    store = BlobStore(
        resolve_connection(env={"VIDEO_STORAGE": ";".join([*parts, f"AccountKey={wrong_key}"])}), container
    )

    with pytest.raises(BlobStoreError) as caught:
        store.upload_bytes("runs/x/video.mp4", b"abc", content_type="video/mp4")

    assert caught.value.retryable is False
    assert "HTTP 403 AuthorizationFailure" in caught.value.message  # the service's code, not an SDK enum name
    assert wrong_key not in caught.value.message


@pytest.mark.parametrize("container", ["xx", "Videos", "vid--eos", "-videos", "videos-", "v" * 64, "vid_eos", None])
def test_a_malformed_container_name_is_refused_before_any_request(container):
    with pytest.raises(ValueError):
        BlobStore(lambda: pytest.fail("the store tried to connect"), container)


def test_a_closed_store_reconnects_on_next_use(store: BlobStore):
    store.upload_bytes("runs/c1/video.mp4", b"abc", content_type="video/mp4")
    store.close()
    assert store.open_read("runs/c1/video.mp4").read() == b"abc"


def test_an_unreachable_service_is_a_retryable_storage_error():
    port = free_port()  # nothing listens there
    raw = f"AccountName=devstoreaccount1;AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1"
    store = BlobStore(resolve_connection(env={"VIDEO_STORAGE": raw}), "videos", retry_total=0)

    with pytest.raises(BlobStoreError) as caught:
        store.find("runs/x/video.mp4")

    assert caught.value.retryable is True
    assert caught.value.code == "storage_error"


# --- create-if-absent and leases ---


def test_create_json_if_absent_creates_once_and_never_overwrites(store: BlobStore):
    assert store.create_json_if_absent("claims/a.json", {"run_id": "first"}) is True
    assert store.create_json_if_absent("claims/a.json", {"run_id": "second"}) is False
    assert store.read_json("claims/a.json") == {"run_id": "first"}


def test_a_leased_blob_is_written_only_with_its_lease(store: BlobStore):
    store.create_json_if_absent("intent.json", {"v": 1})
    with store.leased("intent.json", seconds=15) as lease:
        with pytest.raises(BlobStoreError, match="HTTP 412"):
            store.write_json("intent.json", {"v": 2})
        store.write_json("intent.json", {"v": 3}, lease=lease)
    store.write_json("intent.json", {"v": 4})  # released on leaving the block
    assert store.read_json("intent.json") == {"v": 4}


def test_a_second_lease_waits_a_bounded_time_then_fails_retryably(store: BlobStore):
    store.create_json_if_absent("intent.json", {"v": 1})
    with (
        store.leased("intent.json", seconds=15),
        pytest.raises(BlobStoreError, match="stayed leased by another attempt") as raised,
        store.leased("intent.json", seconds=15, wait=0.5),
    ):
        pass
    assert raised.value.retryable is True


def test_a_lease_on_a_missing_blob_is_not_found(store: BlobStore):
    with pytest.raises(BlobNotFoundError), store.leased("missing.json"):
        pass
