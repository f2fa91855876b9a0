"""Blob triggers: container scanning (both `source` values, since Azurite has no Event Grid) and the
`/runtime/webhooks/blobs` endpoint Event Grid would call.

Each blob version fires once: a receipt per (function, blob) in SQLite keeps the ETag of the last version that
fired, as the Functions host's blob receipts do, so any new upload fires (identical bytes too: a new ETag) and a
duplicate event for the same version does not. A failing invocation is retried on later scans up to 5 times (the
host's maxDequeueCount), then given up as poison, as the Functions host does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse

from aiohttp import web
from azure.functions.blob import InputStream
from azure.storage.blob import BlobServiceClient

from emulators.functions import invocation
from emulators.functions.application import FunctionApp, FunctionSpec
from emulators.functions.keys import BLOBS_SYSTEM_KEY, HostKeys
from emulators.functions.orchestrations import timestamp
from emulators.functions.store import DurableStore

log = logging.getLogger("host")

MAX_ATTEMPTS = 5
WEBHOOK_PATH = "/runtime/webhooks/blobs"


class BlobConnectionError(Exception):
    """The `connection` setting of a blob trigger is missing or unusable."""


def blob_service(connection: str, environ: dict[str, str] | None = None) -> BlobServiceClient:
    """A client for a Functions `connection` setting: a connection string, or `<prefix>__serviceUri` + identity."""
    environ = os.environ if environ is None else environ
    value = environ.get(connection)
    if value:
        return BlobServiceClient.from_connection_string(value)
    uri = environ.get(f"{connection}__blobServiceUri") or environ.get(f"{connection}__serviceUri")
    account = environ.get(f"{connection}__accountName")
    if account and not uri:
        uri = f"https://{account}.blob.core.windows.net"
    if not uri:
        raise BlobConnectionError(
            f"blob trigger connection '{connection}': set {connection} to a connection string, "
            f"or {connection}__blobServiceUri / {connection}__accountName for an identity"
        )
    from azure.identity import DefaultAzureCredential

    client_id = environ.get(f"{connection}__clientId")
    return BlobServiceClient(uri, credential=DefaultAzureCredential(managed_identity_client_id=client_id))


@dataclass
class BlobFunction:
    """A blob-trigger function with its container, name pattern and connection."""

    spec: FunctionSpec
    container: str
    prefix: str
    pattern: re.Pattern
    connection: str
    source: str

    @classmethod
    def of(cls, spec: FunctionSpec) -> BlobFunction:
        path = str(spec.trigger.get("path", "")).strip("/")
        container, _, blob_pattern = path.partition("/")
        if not container or "{" in container:
            raise ValueError(f"blob trigger {spec.name}: path {path!r} must start with a literal container name")
        regex, prefix = "", ""
        for index, piece in enumerate(re.split(r"(\{[^{}]+\})", blob_pattern or "{name}")):
            if index % 2:
                regex += f"(?P<{_group(piece[1:-1])}>.+)"
            else:
                regex += re.escape(piece)
                if index == 0:
                    prefix = piece
        return cls(
            spec=spec,
            container=container,
            prefix=prefix,
            pattern=re.compile(f"^{regex}$", re.DOTALL),
            connection=spec.trigger.get("connection") or "AzureWebJobsStorage",
            source=spec.trigger.get("source") or "LogsAndContainerScan",
        )


class BlobTriggers:
    """Scans containers for new or changed blobs and fires each version once."""

    def __init__(
        self,
        app: FunctionApp,
        store: DurableStore,
        keys: HostKeys,
        client_binding: Callable[[dict], str],
        executor: Executor,
        poll_seconds: float,
    ) -> None:
        self.app = app
        self.store = store
        self.keys = keys
        self.client_binding = client_binding
        self.executor = executor
        self.poll_seconds = poll_seconds
        self.functions = [BlobFunction.of(spec) for spec in app.of_type("blobTrigger")]
        self._clients: dict[str, BlobServiceClient] = {}
        self._in_flight: set[tuple[str, str]] = set()
        self._warned: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._scans_completed = {function.spec.name: 0 for function in self.functions}
        self._events_handled = {function.spec.name: 0 for function in self.functions}

    def progress(self) -> dict[str, dict]:
        """Per function: its container, the scans completed and the Event Grid events handled so far.

        A scan is completed once every blob it found has been handled, so a caller that sees the count rise twice
        after an upload knows a scan that began after the upload has finished: whatever it fires, it has fired.
        """
        return {
            function.spec.name: {
                "container": function.container,
                "scansCompleted": self._scans_completed[function.spec.name],
                "eventsHandled": self._events_handled[function.spec.name],
            }
            for function in self.functions
        }

    def _service(self, connection: str) -> BlobServiceClient:
        if connection not in self._clients:
            self._clients[connection] = blob_service(connection)
        return self._clients[connection]

    async def run(self) -> None:
        """Scan every blob-trigger container, forever, `poll_seconds` apart."""
        if not self.functions:
            return
        loop = asyncio.get_running_loop()
        first = True
        while True:
            for function in self.functions:
                try:
                    found = await loop.run_in_executor(self.executor, self._scan, function)
                except Exception as exc:
                    key = f"{function.spec.name}:{type(exc).__name__}"
                    if key not in self._warned:
                        self._warned.add(key)
                        # The SDK's message carries the whole XML error body: its first line says enough.
                        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                        log.warning(
                            "Blob trigger %s cannot scan %s yet: %s (scanning again every %g s)",
                            function.spec.name, function.container, reason, self.poll_seconds,
                        )  # fmt: skip
                    continue
                for name, properties in found:
                    await self._fire(function, name, properties, "LogsAndContainerScan")
                self._scans_completed[function.spec.name] += 1
            if first:
                first = False
                log.info("Blob triggers: first scan of %d function(s) done", len(self.functions))
            await asyncio.sleep(self.poll_seconds)

    def _scan(self, function: BlobFunction) -> list[tuple[str, dict]]:
        container = self._service(function.connection).get_container_client(function.container)
        changed = []
        for blob in container.list_blobs(name_starts_with=function.prefix or None):
            if not function.pattern.match(blob.name):
                continue
            properties = _properties(blob)
            properties["uri"] = f"{container.url}/{quote(blob.name)}"
            if self._should_fire(function, blob.name, properties):
                changed.append((blob.name, properties))
        return changed

    def _should_fire(self, function: BlobFunction, name: str, properties: dict) -> bool:
        receipt = self.store.blob_receipt(function.spec.name, name)
        if receipt is None or receipt["etag"] != properties["etag"]:
            return True
        return not receipt["done"] and receipt["attempts"] < MAX_ATTEMPTS

    async def _fire(self, function: BlobFunction, name: str, properties: dict, detected_by: str) -> None:
        key = (function.spec.name, name)
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        try:
            # Checked again here: an event and a scan may both have found this version before either fired it.
            if not self._should_fire(function, name, properties):
                return
            receipt = self.store.blob_receipt(function.spec.name, name)
            same_version = receipt is not None and receipt["etag"] == properties["etag"]
            attempts = (receipt["attempts"] if same_version else 0) + 1
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(self.executor, self._download, function, name)
            stream = InputStream(
                data=data,
                name=f"{function.container}/{name}",
                uri=properties["uri"],
                length=len(data),
                blob_properties=properties["blob_properties"],
                metadata=properties["metadata"],
            )
            kwargs: dict = {function.spec.trigger["name"]: stream}
            for binding in function.spec.bindings:
                if binding.get("type") == "durableClient":
                    kwargs[binding["name"]] = self.client_binding(binding)
            succeeded = True
            try:
                await invocation.invoke(
                    function.spec,
                    kwargs,
                    reason=f"New blob detected({detected_by}): {function.container}/{name}",
                    directory=str(self.app.directory),
                    executor=self.executor,
                )
            except Exception:
                succeeded = False
                if attempts >= MAX_ATTEMPTS:
                    log.error(
                        "Blob %s/%s failed %d times in %s: given up (poison)",
                        function.container,
                        name,
                        attempts,
                        function.spec.name,
                    )
            self.store.record_blob_receipt(
                function.spec.name,
                name,
                properties["etag"],
                properties["blob_properties"]["ContentMD5"],
                attempts=attempts,
                done=succeeded,
                now_text=timestamp(time.time()),
            )
        except Exception:
            log.exception("Blob trigger %s could not process %s/%s", function.spec.name, function.container, name)
        finally:
            self._in_flight.discard(key)

    def _download(self, function: BlobFunction, name: str) -> bytes:
        client = self._service(function.connection).get_blob_client(function.container, name)
        return client.download_blob().readall()

    def _properties_of(self, function: BlobFunction, name: str) -> dict:
        client = self._service(function.connection).get_blob_client(function.container, name)
        properties = _properties(client.get_blob_properties())
        properties["uri"] = client.url
        return properties

    # -- the Event Grid webhook ------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /runtime/webhooks/blobs?functionName=Host.Functions.<name>: validation or BlobCreated events."""
        presented = request.query.get("code") or request.headers.get("x-functions-key")
        if not self.keys.allows_system(BLOBS_SYSTEM_KEY, presented):
            return web.Response(status=401)
        name = (request.query.get("functionName") or "").removeprefix("Host.Functions.")
        function = next((f for f in self.functions if f.spec.name.lower() == name.lower()), None)
        if function is None:
            return web.json_response({"error": f"no blob-trigger function named {name!r}"}, status=404)
        try:
            events = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return web.json_response({"error": "expected an Event Grid event or an array of them"}, status=400)
        for event in events:
            kind = event.get("eventType") or event.get("type")
            if kind == "Microsoft.EventGrid.SubscriptionValidationEvent":
                code = (event.get("data") or {}).get("validationCode")
                return web.json_response({"validationResponse": code})
        accepted = []
        for event in events:
            if (event.get("eventType") or event.get("type")) != "Microsoft.Storage.BlobCreated":
                continue
            blob = _blob_name(function.container, str((event.get("data") or {}).get("url") or ""))
            if blob is not None and function.pattern.match(blob):
                accepted.append(blob)
        for blob in accepted:
            task = asyncio.create_task(self._fire_from_event(function, blob))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _fire_from_event(self, function: BlobFunction, name: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            properties = await loop.run_in_executor(self.executor, self._properties_of, function, name)
        except Exception as exc:
            log.warning("Event Grid reported %s/%s but it cannot be read: %s", function.container, name, exc)
        else:
            await self._fire(function, name, properties, "EventGrid")
        finally:
            self._events_handled[function.spec.name] += 1


def _properties(blob) -> dict:
    md5 = blob.content_settings.content_md5 if blob.content_settings else None
    return {
        "etag": str(blob.etag),
        "uri": "",
        "metadata": dict(blob.metadata or {}),
        "blob_properties": {
            "ContentLength": blob.size,
            "ETag": str(blob.etag),
            "ContentType": blob.content_settings.content_type if blob.content_settings else None,
            "LastModified": blob.last_modified.isoformat() if blob.last_modified else None,
            "ContentMD5": base64.b64encode(bytes(md5)).decode() if md5 else None,
        },
    }


def _blob_name(container: str, url: str) -> str | None:
    """The blob name inside `container` from a blob URL (account in the host or, for Azurite, the path)."""
    path = unquote(urlparse(url).path)
    marker = f"/{container}/"
    index = path.find(marker)
    return path[index + len(marker) :] if index >= 0 else None


def _group(name: str) -> str:
    cleaned = re.sub(r"\W", "_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"p_{cleaned}"
