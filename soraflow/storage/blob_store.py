"""Video outputs in one blob container: streamed uploads committed only when whole, manifests, read URLs."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from soraflow import config
from soraflow.errors import ConfigurationError, FieldError, RequestValidationError, SoraflowError
from soraflow.storage.connection import DEFAULT_SETTING, StorageConnection, resolve_connection
from soraflow.storage.names import MANIFEST_NAME, run_blob, run_prefix, shown, validate_blob_name

# The storage SDK is imported where it is first used: at import it would double the app's cold start.
if TYPE_CHECKING:
    from azure.storage.blob import (
        BlobClient,
        BlobProperties,
        BlobServiceClient,
        ContainerClient,
        StorageStreamDownloader,
        UserDelegationKey,
    )

MiB = 1024 * 1024
DEFAULT_CONTAINER_SETTING = "VIDEO_OUTPUT_CONTAINER"
# 4 MiB blocks: a 200 MB video is ~50 requests, and the few blocks held in memory at once stay cheap.
DEFAULT_BLOCK_SIZE = 4 * MiB
DEFAULT_CONCURRENCY = 2
MAX_BLOCK_SIZE = 100 * MiB
MAX_BLOCKS = 50_000  # the service's limit of committed blocks per blob
MAX_JSON_BYTES = 4 * MiB  # a run manifest is a few KB; anything this big is not one of ours
MAX_METADATA_BYTES = 8 * 1024  # the service's limit for all metadata names and values together
MAX_DELEGATION_KEY_LIFETIME = timedelta(days=7)  # the service's limit for a user delegation key
# A user-delegation SAS cannot outlive its key, so read URLs stay a day inside the key's limit.
MAX_READ_URL_TTL = timedelta(days=6)
CLOCK_SKEW = timedelta(minutes=5)  # SAS and delegation keys start this far back so skewed clocks still accept them
# A finite lease (the service allows 15-60 s): a holder that crashes blocks the blob for at most this long.
MIN_LEASE_SECONDS, MAX_LEASE_SECONDS = 15, 60
DEFAULT_LEASE_SECONDS = 60
DEFAULT_LEASE_WAIT_SECONDS = 90.0  # past a crashed holder's whole lease, with room for the acquire calls
LEASE_POLL_SECONDS = 0.25

log = logging.getLogger("soraflow.storage")

_RETRYABLE_STATUSES = {408, 429, 500, 502, 503, 504}
_CONTAINER = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_METADATA_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=[\x20-\x7e]*)?")


# The SDK's default policy retries a refused connection for about 85 s inside one call, holding the worker; a short
# in-call retry (about 4 s) hands a longer outage to the orchestration's durable timers instead.
IN_CALL_RETRY = {"retry_total": 2, "initial_backoff": 1, "increment_base": 2}


class BlobStoreError(SoraflowError):
    """Blob Storage refused or failed an operation; `retryable` says whether trying again can help."""

    code = "storage_error"
    retryable = True


class BlobNotFoundError(BlobStoreError):
    """The blob (or its container) does not exist."""

    code = "blob_not_found"
    retryable = False


class BlobTooLargeError(BlobStoreError):
    """More bytes than the store accepts for this blob (an oversized manifest, or past the block limit)."""

    code = "blob_too_large"
    retryable = False


class InvalidBlobContentError(BlobStoreError):
    """A blob exists but its content is not what it should be (e.g. a manifest that is not a JSON object)."""

    code = "invalid_blob_content"
    retryable = False


class IncompleteDownloadError(SoraflowError):
    """The stream ended with a different byte count than announced; nothing was committed, so retry the download."""

    code = "incomplete_download"
    retryable = True

    def __init__(self, blob: str, *, expected: int, received: int, more: bool = False):
        self.blob = blob
        self.expected = expected
        self.received = received
        what = f"more than {expected}" if more else f"{received} of {expected}"
        super().__init__(f"download for {blob} delivered {what} bytes; the blob was not written")


@dataclass(frozen=True)
class StoredBlob:
    """A blob as stored: where it is, how big, what type, and its fingerprints."""

    container: str
    blob: str
    bytes: int
    content_type: str | None
    etag: str | None
    md5: str | None = None  # hex; set at commit, so a reader can verify the whole content
    sha256: str | None = None  # hex; known only to the upload that wrote it
    metadata: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None

    @property
    def path(self) -> str:
        return f"{self.container}/{self.blob}"

    def to_dict(self) -> dict:
        """A JSON-able form for activity results and manifests."""
        return {
            "container": self.container,
            "blob": self.blob,
            "bytes": self.bytes,
            "content_type": self.content_type,
            "etag": self.etag,
            "md5": self.md5,
            "sha256": self.sha256,
            "metadata": dict(self.metadata),
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
        }


class BlobReader:
    """An open blob: `.blob` describes it, iterating yields its bytes in chunks of at most one block."""

    def __init__(self, blob: StoredBlob, downloader: StorageStreamDownloader):
        self.blob = blob
        self._downloader = downloader

    def __iter__(self) -> Iterator[bytes]:
        with _storage_errors("read", self.blob.blob):
            yield from self._downloader.chunks()

    def read(self) -> bytes:
        """Everything at once (only for blobs known to be small)."""
        return b"".join(self)


class BlobStore:
    """One container of video outputs, reached through a lazily created, reused BlobServiceClient."""

    def __init__(
        self,
        connection: StorageConnection | Callable[[], StorageConnection] | None = None,
        container: str = "videos",
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        **client_options: Any,
    ):
        if not 1 <= block_size <= MAX_BLOCK_SIZE:
            raise ValueError(f"block_size must be 1..{MAX_BLOCK_SIZE} bytes, got {block_size}")
        if not 1 <= max_concurrency <= 16:
            raise ValueError(f"max_concurrency must be 1..16, got {max_concurrency}")
        if not isinstance(container, str) or not _CONTAINER.fullmatch(container) or "--" in container:
            raise ValueError(f"container must be 3-63 lowercase letters, digits and single hyphens, got {container!r}")
        self._connection_source = connection if connection is not None else resolve_connection
        self._connection: StorageConnection | None = connection if isinstance(connection, StorageConnection) else None
        self.container = container
        self.block_size = block_size
        self.max_concurrency = max_concurrency
        # Passed to BlobServiceClient, e.g. retry_total, connection_timeout, read_timeout.
        self._client_options = client_options
        self._lock = threading.Lock()
        self._service: BlobServiceClient | None = None
        self._container_client: ContainerClient | None = None
        self._delegation: tuple[UserDelegationKey, datetime] | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        setting: str = DEFAULT_SETTING,
        container_setting: str = DEFAULT_CONTAINER_SETTING,
        **options: Any,
    ) -> BlobStore:
        """A store for the container named in `VIDEO_OUTPUT_CONTAINER`, connected through `VIDEO_STORAGE`."""
        env = os.environ if env is None else env
        container = config.container_setting(env, container_setting, config.DEFAULT_OUTPUT_CONTAINER)
        return cls(lambda: resolve_connection(setting, env), container, **{**IN_CALL_RETRY, **options})

    @property
    def connection(self) -> StorageConnection:
        """The resolved connection (resolved on first access; raises ConfigurationError if the setting is bad)."""
        if self._connection is None:
            with self._lock:
                if self._connection is None:
                    source = self._connection_source
                    self._connection = source() if callable(source) else source
        return self._connection

    def service_client(self) -> BlobServiceClient:
        """The BlobServiceClient, created on first use and reused."""
        if self._service is None:
            connection = self.connection
            with self._lock:
                if self._service is None:
                    # Reads come back in block-sized pieces too, so streaming a blob out is as bounded as in.
                    self._service = connection.create_service_client(
                        max_single_get_size=self.block_size,
                        max_chunk_get_size=self.block_size,
                        max_single_put_size=self.block_size,
                        max_block_size=self.block_size,
                        **self._client_options,
                    )
        return self._service

    def container_client(self) -> ContainerClient:
        """The output container's client; the container is created the first time it is needed."""
        if self._container_client is None:
            from azure.core.exceptions import ResourceExistsError

            client = self.service_client().get_container_client(self.container)
            with _storage_errors("create container", self.container), suppress(ResourceExistsError):
                client.create_container()
            self._container_client = client
        return self._container_client

    def container_exists(self) -> bool:
        """Whether the output container exists: a read-only reachability check that never creates it."""
        client = self.service_client().get_container_client(self.container)
        try:
            with _storage_errors("read properties of container", self.container):
                client.get_container_properties()
        except BlobNotFoundError:
            return False
        return True

    def _blob_client(self, name: str) -> BlobClient:
        return self.container_client().get_blob_client(name)

    # --- writing ---

    def upload_stream(
        self,
        blob_name: str,
        chunks: Iterable[bytes],
        *,
        content_type: str,
        expected_size: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredBlob:
        """Stage `chunks` as blocks and commit them only if the stream ended with `expected_size` bytes (if known)."""
        from azure.storage.blob import ContentSettings

        name = validate_blob_name(blob_name)
        settings = ContentSettings(content_type=_validate_content_type(content_type))
        meta = _validate_metadata(metadata)
        if expected_size is not None and (
            isinstance(expected_size, bool) or not isinstance(expected_size, int) or expected_size < 0
        ):
            raise ValueError(f"expected_size must be a non-negative int or None, got {expected_size!r}")
        blob = self._blob_client(name)
        md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        # A fresh, fixed-length id prefix per upload: the service wants equal-length ids per blob, and a failed
        # attempt's leftover uncommitted blocks must never be mistaken for this attempt's.
        nonce = uuid.uuid4().hex
        block_ids: list[str] = []
        inflight: deque[Future] = deque()
        buffer = bytearray(self.block_size)
        filled = total = 0

        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="blob-stage") as pool:

            def stage(length: int) -> None:
                if len(block_ids) >= MAX_BLOCKS:
                    raise BlobTooLargeError(f"{name}: more than {MAX_BLOCKS} blocks of {self.block_size} bytes")
                # Bounded memory: wait for a free slot before copying the next block out of the buffer, so at most
                # the buffer and `max_concurrency` blocks are alive at once.
                while len(inflight) >= self.max_concurrency:
                    inflight.popleft().result()
                block_id = f"{nonce}{len(block_ids):06d}"
                block_ids.append(block_id)
                data = bytes(buffer) if length == len(buffer) else bytes(memoryview(buffer)[:length])
                inflight.append(pool.submit(_stage_block, blob, name, block_id, data))

            try:
                for chunk in chunks:
                    view = _byte_view(chunk)
                    size = view.nbytes
                    if not size:
                        continue
                    total += size
                    if expected_size is not None and total > expected_size:
                        raise IncompleteDownloadError(name, expected=expected_size, received=total, more=True)
                    md5.update(view)
                    sha256.update(view)
                    offset = 0
                    while offset < size:
                        take = min(self.block_size - filled, size - offset)
                        buffer[filled : filled + take] = view[offset : offset + take]
                        filled += take
                        offset += take
                        if filled == self.block_size:
                            stage(filled)
                            filled = 0
                if filled:
                    stage(filled)
                while inflight:
                    inflight.popleft().result()
            except BaseException:
                for future in inflight:
                    future.cancel()
                raise

        if expected_size is not None and total != expected_size:
            raise IncompleteDownloadError(name, expected=expected_size, received=total)
        settings.content_md5 = bytearray(md5.digest())
        with _storage_errors("commit", name):
            response = blob.commit_block_list(block_ids, content_settings=settings, metadata=meta)
        return StoredBlob(
            container=self.container,
            blob=name,
            bytes=total,
            content_type=settings.content_type,
            etag=response.get("etag"),
            md5=md5.hexdigest(),
            sha256=sha256.hexdigest(),
            metadata=dict(meta),
            last_modified=response.get("last_modified"),
        )

    def upload_bytes(
        self,
        blob_name: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        lease: str | None = None,
    ) -> StoredBlob:
        """Write a small blob in one request (larger ones go through `upload_stream`); replaces any existing one.

        `lease` is the id of a lease held on the blob (see `leased`), which writing a leased blob needs."""
        if len(data) > self.block_size:
            if lease is not None:
                raise ValueError(f"a leased write is one request: at most {self.block_size} bytes, got {len(data)}")
            return self.upload_stream(
                blob_name, [data], content_type=content_type, expected_size=len(data), metadata=metadata
            )
        from azure.storage.blob import ContentSettings

        name = validate_blob_name(blob_name)
        data = bytes(_byte_view(data))
        digest = hashlib.md5(data, usedforsecurity=False)
        settings = ContentSettings(content_type=_validate_content_type(content_type), content_md5=digest.digest())
        meta = _validate_metadata(metadata)
        with _storage_errors("write", name):
            response = self._blob_client(name).upload_blob(
                data, overwrite=True, content_settings=settings, metadata=meta, lease=lease
            )
        return StoredBlob(
            container=self.container,
            blob=name,
            bytes=len(data),
            content_type=settings.content_type,
            etag=response.get("etag"),
            md5=digest.hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
            metadata=dict(meta),
            last_modified=response.get("last_modified"),
        )

    def write_json(self, blob_name: str, data: Any, *, lease: str | None = None) -> StoredBlob:
        """Write `data` as a UTF-8 JSON blob (`lease`: the id of a lease held on it, which a leased blob needs)."""
        return self.upload_bytes(blob_name, _json_bytes(blob_name, data), content_type="application/json", lease=lease)

    def create_json_if_absent(self, blob_name: str, data: Any) -> bool:
        """Write `data` as a JSON blob only if no blob of that name exists; True when this call created it."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        name = validate_blob_name(blob_name)
        settings = ContentSettings(content_type="application/json")
        try:
            with _storage_errors("create", name):
                self._blob_client(name).upload_blob(_json_bytes(name, data), overwrite=False, content_settings=settings)
        except BlobStoreError as error:
            if isinstance(error.__cause__, ResourceExistsError):
                return False
            raise
        return True

    @contextmanager
    def leased(
        self, blob_name: str, *, seconds: int = DEFAULT_LEASE_SECONDS, wait: float = DEFAULT_LEASE_WAIT_SECONDS
    ) -> Iterator[str]:
        """Hold a lease on an existing blob for the block, renewed while it runs; yields the lease id.

        Waits up to `wait` seconds for another holder to release it (or for its lease to expire: a holder that
        crashed blocks for at most its lease's `seconds`), then raises a retryable BlobStoreError.
        """
        from azure.storage.blob import BlobLeaseClient

        name = validate_blob_name(blob_name)
        if not MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS:
            raise ValueError(f"seconds must be {MIN_LEASE_SECONDS}..{MAX_LEASE_SECONDS}, got {seconds}")
        lease = BlobLeaseClient(self._blob_client(name))
        deadline = time.monotonic() + wait
        while True:
            try:
                with _storage_errors("lease", name):
                    lease.acquire(lease_duration=seconds)
                break
            except BlobStoreError as error:
                held = getattr(error.__cause__, "status_code", None) == 409
                if not held:
                    raise
                if time.monotonic() >= deadline:
                    raise BlobStoreError(
                        f"{name} stayed leased by another attempt for {wait:.0f} s; try again", retryable=True
                    ) from error
                time.sleep(LEASE_POLL_SECONDS)
        stop = threading.Event()

        def renew() -> None:
            # Renew well before expiry, so a slow holder never loses the lease to a waiter.
            while not stop.wait(seconds / 3):
                try:
                    lease.renew()
                except Exception as exc:  # a lost lease is logged; the holder's own writes then fail loudly
                    log.warning("cannot renew the lease on %s: %s", name, type(exc).__name__)
                    return

        renewer = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
        renewer.start()
        try:
            yield lease.id
        finally:
            stop.set()
            renewer.join()
            try:
                lease.release()
            except Exception as exc:  # it expires on its own within `seconds`
                log.warning("cannot release the lease on %s: %s", name, type(exc).__name__)

    def write_manifest(self, run_id: str, manifest: Mapping[str, Any]) -> StoredBlob:
        """Write a run's manifest, `runs/{run_id}/run.json`."""
        if not isinstance(manifest, Mapping):
            raise TypeError(f"a manifest must be a mapping, got {type(manifest).__name__}")
        return self.write_json(run_blob(run_id, MANIFEST_NAME), dict(manifest))

    # --- reading ---

    def open_read(self, blob_name: str) -> BlobReader:
        """Open a blob for streaming; raises BlobNotFoundError if it does not exist."""
        name = validate_blob_name(blob_name)
        with _storage_errors("read", name):
            downloader = self._blob_client(name).download_blob()
        return BlobReader(self._stored(downloader.properties), downloader)

    def read_json(self, blob_name: str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
        """Read and parse a JSON blob of at most `max_bytes`; raises BlobNotFoundError if it does not exist."""
        reader = self.open_read(blob_name)
        if reader.blob.bytes > max_bytes:
            raise BlobTooLargeError(f"{blob_name}: {reader.blob.bytes} bytes is over the {max_bytes}-byte JSON limit")
        body = reader.read()
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidBlobContentError(f"{blob_name} is not valid UTF-8 JSON: {exc}") from None

    def find(self, blob_name: str) -> StoredBlob | None:
        """The blob's properties, or None if it does not exist."""
        name = validate_blob_name(blob_name)
        try:
            with _storage_errors("read properties of", name):
                return self._stored(self._blob_client(name).get_blob_properties())
        except BlobNotFoundError:
            return None

    def list(self, prefix: str = "") -> list[StoredBlob]:
        """Every committed blob whose name starts with `prefix`, in name order."""
        prefix = _validate_prefix(prefix, allow_empty=True)
        with _storage_errors("list", prefix or self.container):
            found = self.container_client().list_blobs(name_starts_with=prefix or None, include=["metadata"])
            return [self._stored(properties) for properties in found]

    # --- deleting ---

    def delete(self, blob_name: str) -> bool:
        """Delete one blob (with its snapshots); False if it was not there."""
        name = validate_blob_name(blob_name)
        try:
            with _storage_errors("delete", name):
                self._blob_client(name).delete_blob(delete_snapshots="include")
        except BlobNotFoundError:
            return False
        return True

    def delete_prefix(self, prefix: str) -> int:
        """Delete every blob in the folder `prefix` (e.g. `runs/{id}/`); returns how many were deleted."""
        folder = _validate_prefix(prefix, allow_empty=False)
        if not folder.endswith("/"):
            # A folder, never a name prefix: deleting "runs/ab" must not take "runs/abc/" with it.
            folder += "/"
        return sum(self.delete(stored.blob) for stored in self.list(folder))

    def delete_run(self, run_id: str) -> int:
        """Delete everything a run stored, manifest included."""
        return self.delete_prefix(run_prefix(run_id))

    # --- read URLs ---

    def read_url(self, blob_name: str, ttl: timedelta = timedelta(minutes=15)) -> str:
        """A read-only URL for the blob that stops working after `ttl` (account-key or user-delegation SAS)."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        name = validate_blob_name(blob_name)
        if not isinstance(ttl, timedelta) or not timedelta(0) < ttl <= MAX_READ_URL_TTL:
            raise ValueError(f"ttl must be a timedelta in (0, {MAX_READ_URL_TTL}], got {ttl!r}")
        connection = self.connection
        now = datetime.now(UTC)
        expiry = now + ttl
        signing: dict[str, Any]
        if connection.account_key is not None:
            signing = {"account_key": connection.account_key}
        elif connection.uses_identity:
            signing = {"user_delegation_key": self._delegation_key(now, expiry)}
        else:
            raise ConfigurationError(
                connection.setting,
                "has neither an account key nor an identity, so read URLs cannot be signed "
                "(a SharedAccessSignature connection string cannot sign new ones)",
            )
        https = connection.account_url.startswith("https://")
        sas = generate_blob_sas(
            connection.account_name,
            self.container,
            name,
            permission=BlobSasPermissions(read=True),
            start=now - CLOCK_SKEW,
            expiry=expiry,
            # https only against Azure; the emulator speaks plain http.
            protocol="https" if https else "https,http",
            **signing,
        )
        return f"{connection.account_url}/{quote(self.container)}/{quote(name, safe='/')}?{sas}"

    def _delegation_key(self, now: datetime, expiry: datetime) -> UserDelegationKey:
        # One key signs many URLs: reuse it until it would expire before the URL being signed.
        cached = self._delegation
        if cached is not None and cached[1] >= expiry + CLOCK_SKEW:
            return cached[0]
        # A day (or the URL's life plus an hour), within the service's limit counted from the key's skewed start.
        wanted = max(expiry - now + timedelta(hours=1), timedelta(days=1))
        key_expiry = now + min(wanted, MAX_DELEGATION_KEY_LIFETIME - CLOCK_SKEW)
        with _storage_errors("get a user delegation key for", self.container):
            key = self.service_client().get_user_delegation_key(now - CLOCK_SKEW, key_expiry)
        self._delegation = (key, key_expiry)
        return key

    def close(self) -> None:
        """Close the service client's connections (the next call opens new ones)."""
        with self._lock:
            service, self._service, self._container_client = self._service, None, None
        if service is not None:
            service.close()

    def _stored(self, properties: BlobProperties) -> StoredBlob:
        settings = properties.content_settings
        md5 = settings.content_md5 if settings else None
        return StoredBlob(
            container=self.container,
            blob=properties.name,
            bytes=properties.size,
            content_type=settings.content_type if settings else None,
            etag=properties.etag,
            md5=bytes(md5).hex() if md5 else None,
            metadata=dict(properties.metadata or {}),
            last_modified=properties.last_modified,
        )


_output_store: BlobStore | None = None
_output_store_lock = threading.Lock()


def output_store() -> BlobStore:
    """The app's output store, configured from the environment on first use and reused after."""
    global _output_store
    if _output_store is None:
        with _output_store_lock:
            if _output_store is None:
                _output_store = BlobStore.from_env()
    return _output_store


_container_stores: dict[str, BlobStore] = {}


def container_store(container: str) -> BlobStore:
    """A store on another container of the output store's account (the request container), sharing its connection."""
    main = output_store()
    if container == main.container:
        return main
    with _output_store_lock:
        if container not in _container_stores:
            _container_stores[container] = BlobStore(lambda: main.connection, container)
        return _container_stores[container]


def _json_bytes(blob_name: str, data: Any) -> bytes:
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    if len(body) > MAX_JSON_BYTES:
        raise BlobTooLargeError(f"{blob_name}: JSON of {len(body)} bytes is over the {MAX_JSON_BYTES}-byte limit")
    return body


def _stage_block(blob: BlobClient, name: str, block_id: str, data: bytes) -> None:
    with _storage_errors("stage a block of", name):
        blob.stage_block(block_id, data, length=len(data))


def _byte_view(chunk: object) -> memoryview:
    if isinstance(chunk, str) or not isinstance(chunk, bytes | bytearray | memoryview):
        raise TypeError(f"chunks must be bytes, got {type(chunk).__name__}")
    view = memoryview(chunk)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _validate_prefix(prefix: object, *, allow_empty: bool) -> str:
    if prefix == "" and allow_empty:
        return ""
    # A prefix is a blob name that may end in '/'.
    name = prefix[:-1] if isinstance(prefix, str) and prefix.endswith("/") else prefix
    validate_blob_name(name, field_name="prefix")
    return prefix  # type: ignore[return-value]


def _validate_content_type(content_type: object) -> str:
    if not isinstance(content_type, str) or len(content_type) > 255 or not _CONTENT_TYPE.fullmatch(content_type):
        raise RequestValidationError(
            FieldError("content_type", f"must be a MIME type like 'video/mp4', got {shown(content_type)}")
        )
    return content_type


def _validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise RequestValidationError(FieldError("metadata", f"must be a mapping, got {type(metadata).__name__}"))
    errors = []
    size = 0
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
            errors.append(FieldError(f"metadata.{key}", "name must be a C# identifier (letters, digits, '_')"))
            continue
        # Metadata travels as HTTP headers: printable ASCII only, and the service trims surrounding spaces.
        if not isinstance(value, str) or any(not 0x20 <= ord(c) <= 0x7E for c in value) or value != value.strip():
            errors.append(
                FieldError(f"metadata.{key}", f"must be printable ASCII without surrounding spaces, got {shown(value)}")
            )
            continue
        size += len(key) + len(value)
    if size > MAX_METADATA_BYTES:
        errors.append(FieldError("metadata", f"is {size} bytes; the limit is {MAX_METADATA_BYTES}"))
    if errors:
        raise RequestValidationError(errors)
    return dict(metadata)


@contextmanager
def _storage_errors(operation: str, subject: str) -> Iterator[None]:
    from azure.core.exceptions import (
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    # Only the status and the service's error code: a response body is not ours to repeat.
    try:
        yield
    except ResourceNotFoundError as exc:
        raise BlobNotFoundError(f"cannot {operation} {subject}: not found ({_error_code(exc)})") from exc
    except HttpResponseError as exc:
        status = exc.status_code
        raise BlobStoreError(
            f"cannot {operation} {subject}: HTTP {status} {_error_code(exc)}",
            retryable=status is None or status in _RETRYABLE_STATUSES,
        ) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise BlobStoreError(f"cannot {operation} {subject}: {type(exc).__name__}", retryable=True) from exc


def _error_code(exc: Exception) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or exc.reason or "error")
