"""One paid fal request per run: the ledger for a provider that cannot list its jobs, against the fal emulator's
request log and Azurite's blobs; a lost submit is adopted from the webhook's record, never submitted again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from emulators import processes
from soraflow.job_ledger import GENERATION, PUSHED_RECORD, JobIntent, JobLedger, record_pushed_request
from soraflow.providers import JobSpec, ProviderRateLimited, ProviderUnavailable
from soraflow.providers.endpoint import Endpoint
from soraflow.providers.fal import FalClient, FalKeyAuth
from soraflow.providers.status import JobStatus
from soraflow.providers.transport import Transport
from soraflow.storage import BlobStore, resolve_connection, run_blob
from tests.integration.providers.conftest import FAST_RETRY

FAL_KEY = "ledger-fal-key-0123456789"
HOOK = "https://app.example.test/api/webhooks/fal?run=x"


@pytest.fixture(scope="module")
def fal_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    root = tmp_path_factory.mktemp("fal-ledger")
    args = ["--time-scale", "0.02", "--api-key", FAL_KEY, "--media-cache", str(root / "media")]
    server = processes.start_fal_emulator(args=args, log_path=root / "fal.log")
    yield server
    server.stop()


@pytest.fixture
def fal(fal_emulator: processes.Server) -> Iterator[FalClient]:
    httpx.post(f"{fal_emulator.url}/_emulator/reset", json={}, timeout=10).raise_for_status()
    client = FalClient(Transport(Endpoint(fal_emulator.url), FalKeyAuth(FAL_KEY), api="fal", retry=FAST_RETRY))
    yield client
    client.close()


@pytest.fixture
def store(azurite_connection_string: str) -> BlobStore:
    return BlobStore(
        resolve_connection(env={"VIDEO_STORAGE": azurite_connection_string}), f"fal{uuid.uuid4().hex[:12]}"
    )


def fault(server: processes.Server, **spec) -> None:
    httpx.post(f"{server.url}/_emulator/faults", json=spec, timeout=10).raise_for_status()


def submits(server: processes.Server) -> list[dict]:
    response = httpx.get(f"{server.url}/_emulator/requests", params={"operation": "submit"}, timeout=10)
    return response.json()["requests"]


def queued_request_ids(server: processes.Server) -> list[str]:
    """fal's request ids for every submit the emulator accepted, answered or not."""
    return [entry["job_id"] for entry in submits(server) if entry.get("job_id")]


def start(ledger: JobLedger, fal: FalClient, *, webhook: str | None = HOOK):
    spec = JobSpec("a kite over a park", "fal-ai/veo3.1/fast", 1280, 720, "4", webhook_url=webhook)
    return ledger.start(fal, JobIntent.for_spec(spec, at=ledger.clock()), lambda: fal.create_job(spec))


def new_ledger(store: BlobStore) -> JobLedger:
    return JobLedger(store, f"run-{uuid.uuid4().hex[:16]}", GENERATION)


def test_a_lost_submit_is_never_resubmitted_while_no_webhook_has_come(store, fal, fal_emulator):
    ledger = new_ledger(store)
    fault(fal_emulator, operation="submit", kind="drop", phase="after")
    with pytest.raises(ProviderUnavailable):
        start(ledger, fal)
    with pytest.raises(ProviderUnavailable, match="waiting for its webhook") as waiting:
        start(ledger, fal)
    assert waiting.value.retryable
    assert len(submits(fal_emulator)) == 1


def test_a_lost_submit_is_adopted_from_the_webhooks_record(store, fal, fal_emulator):
    ledger = new_ledger(store)
    fault(fal_emulator, operation="submit", kind="drop", phase="after")
    with pytest.raises(ProviderUnavailable):
        start(ledger, fal)
    (request_id,) = queued_request_ids(fal_emulator)
    assert record_pushed_request(store, ledger.run_id, request_id, status="OK", at=time.time())

    job = start(ledger, fal)

    assert job.id.endswith("::" + request_id) and job.status in (
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        JobStatus.SUCCEEDED,
    )
    assert store.read_json(ledger.record_blob)["adopted"] is True
    assert len(submits(fal_emulator)) == 1
    assert start(ledger, fal).id == job.id  # from now on the record answers


def test_without_a_webhook_a_lost_submit_fails_the_run_rather_than_paying_twice(store, fal, fal_emulator):
    ledger = new_ledger(store)
    fault(fal_emulator, operation="submit", kind="drop", phase="after")
    with pytest.raises(ProviderUnavailable):
        start(ledger, fal, webhook=None)
    with pytest.raises(ProviderUnavailable, match="PUBLIC_BASE_URL") as final:
        start(ledger, fal, webhook=None)
    assert not final.value.retryable
    assert len(submits(fal_emulator)) == 1


def test_a_refused_submit_is_submitted_again_on_the_next_attempt(store, fal, fal_emulator):
    ledger = new_ledger(store)
    fault(fal_emulator, operation="submit", kind="status", status=429)
    with pytest.raises(ProviderRateLimited):
        start(ledger, fal)
    assert store.read_json(ledger.intent_blob)["no_job"] is True

    job = start(ledger, fal)

    assert queued_request_ids(fal_emulator) == [job.id.split("::")[1]]
    assert store.read_json(ledger.record_blob)["adopted"] is False


def test_the_first_webhook_record_of_a_run_wins(store):
    run_id = f"run-{uuid.uuid4().hex[:16]}"
    assert record_pushed_request(store, run_id, "first", status="OK", at=1.0)
    assert not record_pushed_request(store, run_id, "second", status="OK", at=2.0)
    assert store.read_json(run_blob(run_id, PUSHED_RECORD))["request_id"] == "first"
