"""One stack for the hostile-input and security modules, and the ways they read what changed.

The stack writes to its own containers (`hostile-videos`, `hostile-requests`), so request files other modules left in
the session's Azurite never fire here. `snapshot()` reads the truth a hostile request must leave untouched: every
container and blob in Azurite (with its ETag), every durable instance the host holds, and the number of creates in
the Sora emulator's request log. Every API response the package's client receives is kept, so the secrets module can
search all of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from tests.e2e.conftest import FUNCTION_KEY, MASTER_KEY, SoraflowClient, start_stack

OUTPUT_CONTAINER = "hostile-videos"
REQUEST_CONTAINER = "hostile-requests"
DURABLE_INSTANCES = "/runtime/webhooks/durabletask/instances"
RUNNING = {"Pending", "Running", "ContinuedAsNew", "Suspended"}
ORCHESTRATOR = "video_run_orchestrator"


@dataclass(frozen=True)
class Snapshot:
    """What a rejected request must not change."""

    blobs: frozenset[tuple[str, str, str]]  # (container, name, etag)
    containers: frozenset[str]
    instances: frozenset[str]
    creates: int

    def changes_since(self, before: Snapshot) -> list[str]:
        """Each difference from `before`, said plainly (empty when nothing changed)."""
        changes = [f"new container {name}" for name in sorted(self.containers - before.containers)]
        changes += [f"new or changed blob {c}/{n}" for c, n, _ in sorted(self.blobs - before.blobs)]
        changes += [f"removed blob {c}/{n}" for c, n, _ in sorted(before.blobs - self.blobs)]
        changes += [f"new durable instance {i}" for i in sorted(self.instances - before.instances)]
        if self.creates != before.creates:
            changes.append(f"{self.creates - before.creates} create call(s) reached the provider")
        return changes


class HostileApp(SoraflowClient):
    """The package's stack: the SoraflowClient helpers plus snapshots, quiescence and the responses seen."""

    responses: list[tuple[str, bytes]]  # (headers, body) of every API answer the package's tests received
    observer: httpx.Client  # reads the truth (durable instances, the emulator's log) without being recorded
    service: BlobServiceClient

    def blobs(self, container: str = OUTPUT_CONTAINER):
        return super().blobs(container)

    def durable_instances(self) -> list[dict]:
        """Every instance the host holds, read from the Durable HTTP API with the master key, page after page."""
        instances, token = [], None
        while True:
            headers = {"x-ms-continuation-token": token} if token else {}
            response = self.observer.get(f"{self.url}{DURABLE_INSTANCES}", params={"code": MASTER_KEY}, headers=headers)
            response.raise_for_status()
            instances += response.json()
            token = response.headers.get("x-ms-continuation-token")
            if not token:
                return instances

    def snapshot(self) -> Snapshot:
        """Container names, the blobs of the app's two containers, durable instances, and provider creates.

        Only the app's own containers are listed blob by blob: the app writes nowhere else (its output store has
        one container), and the one container name a request chooses (a reference's) shows up as a new container.
        """
        containers = [c.name for c in self.service.list_containers()]
        blobs = {
            (name, blob.name, blob.etag)
            for name in (OUTPUT_CONTAINER, REQUEST_CONTAINER)
            for blob in self.service.get_container_client(name).list_blobs()
        }
        instances = frozenset(i["instanceId"] for i in self.durable_instances())
        creates = self.observer.get(f"{self.sora_url}/_emulator/requests", params={"operation": "create"})
        creates.raise_for_status()
        return Snapshot(frozenset(blobs), frozenset(containers), instances, len(creates.json()["requests"]))

    def quiesce(self, timeout: float = 60) -> None:
        """Wait until no durable instance is still running (a final status is published before the manifest)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [i for i in self.durable_instances() if i.get("name") == ORCHESTRATOR]
            if not [i for i in runs if i["runtimeStatus"] in RUNNING]:
                return
            time.sleep(0.1)
        raise AssertionError(f"instances still running after {timeout} s\n{self.host.log_tail(40)}")


@pytest.fixture(scope="package")
def hostile_app(tmp_path_factory: pytest.TempPathFactory, azurite_connection_string: str) -> Iterator[HostileApp]:
    """soraflow on the local host with its own containers; every response its client receives is recorded."""
    work = tmp_path_factory.mktemp("hostile")
    app_env = {"VIDEO_OUTPUT_CONTAINER": OUTPUT_CONTAINER, "VIDEO_REQUEST_CONTAINER": REQUEST_CONTAINER}
    # Keys checked, as in Azure: the package is about what a hostile caller can and cannot do.
    sora, host = start_stack(work, azurite_connection_string, app_env=app_env, enable_auth=True)
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    for container in (OUTPUT_CONTAINER, REQUEST_CONTAINER):
        if not service.get_container_client(container).exists():
            service.create_container(container)
    responses: list[tuple[str, bytes]] = []

    def record(response: httpx.Response) -> None:
        responses.append((str(response.headers.multi_items()), response.read()))

    http = httpx.Client(timeout=60, headers={"x-functions-key": FUNCTION_KEY}, event_hooks={"response": [record]})
    app = HostileApp(host.url, sora.url, azurite_connection_string, host, http=http)
    app.responses = responses
    app.observer = httpx.Client(timeout=30)
    app.service = service
    yield app
    app.observer.close()
    http.close()
    host.stop()
    sora.stop()
