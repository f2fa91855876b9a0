"""Exactly one paid job per run: the ledger against the Sora emulator's request log and Azurite's blobs."""

from __future__ import annotations

import threading
import uuid

import pytest
from azure.storage.blob import BlobLeaseClient

from soraflow.job_ledger import CLOCK_SKEW_SECONDS, GENERATION, REMIX, JobIntent, JobLedger, claim_blob
from soraflow.providers import (
    JobSpec,
    ProviderBadRequest,
    ProviderServerError,
    ProviderUnavailable,
    build_provider,
)
from soraflow.storage import BlobStore, resolve_connection
from soraflow.storage import run_blob as run_blob_of
from tests.integration.providers.conftest import FAST_RETRY, add_fault, advance, emulator_admin, logged, settings_for


@pytest.fixture
def store(azurite_connection_string: str) -> BlobStore:
    container = f"ledger{uuid.uuid4().hex[:12]}"
    return BlobStore(resolve_connection(env={"VIDEO_STORAGE": azurite_connection_string}), container)


@pytest.fixture(params=["videos", "jobs"])
def provider(request, sora_emulator):
    client = build_provider(settings_for(sora_emulator.url, api=request.param), retry=FAST_RETRY)
    yield client
    client.close()


def emulator_clock(sora_emulator):
    """The emulator's own time (tests elsewhere move it forward), so intents and jobs share one clock."""
    return lambda: emulator_admin(sora_emulator, "status")["now"]


def spec(api: str, **overrides) -> JobSpec:
    model = "sora-2" if api == "videos" else "sora"
    fields = {"prompt": "A kite over a park", "model": model, "width": 1280, "height": 720, "seconds": 4}
    if api == "videos":
        fields["seconds"] = "4"
    return JobSpec(**{**fields, **overrides})


def ledger_for(store: BlobStore, sora_emulator, kind: str = GENERATION, run_id: str | None = None) -> JobLedger:
    return JobLedger(store, run_id or f"run-{uuid.uuid4().hex[:16]}", kind, clock=emulator_clock(sora_emulator))


def start(ledger: JobLedger, provider, job_spec: JobSpec):
    intent = JobIntent.for_spec(job_spec, at=ledger.clock())
    return ledger.start(provider, intent, lambda: provider.create_job(job_spec))


def jobs_created(sora_emulator) -> list[str]:
    """Ids of every job the emulator really created (answered or not), from its request log."""
    return [e["job_id"] for e in logged(sora_emulator) if e["operation"] in ("create", "remix") and e["job_id"]]


def test_a_first_create_writes_the_intent_then_the_record_and_a_claim(store, provider, sora_emulator):
    ledger = ledger_for(store, sora_emulator)

    job = start(ledger, provider, spec(provider.api))

    assert jobs_created(sora_emulator) == [job.id]
    record = store.read_json(ledger.record_blob)
    assert record["job_id"] == job.id
    assert record["adopted"] is False
    intent = store.read_json(ledger.intent_blob)
    assert intent["prompt_digest"] == job.prompt_digest
    assert "A kite" not in str(intent), "the intent keeps the prompt's fingerprint, never the prompt"
    assert store.read_json(claim_blob(job))["run_id"] == ledger.run_id
    assert logged(sora_emulator, operation="list") == [], "no lookup when the answer arrived"


@pytest.mark.parametrize(
    "fault",
    [{"kind": "drop", "phase": "after"}, {"kind": "status", "status": 503, "phase": "after"}],
    ids=["dropped-answer", "503-after-create"],
)
def test_a_lost_create_answer_is_adopted_in_the_same_attempt(store, provider, sora_emulator, fault):
    add_fault(sora_emulator, operation="create", **fault)
    ledger = ledger_for(store, sora_emulator)

    job = start(ledger, provider, spec(provider.api))

    assert jobs_created(sora_emulator) == [job.id]
    assert len(logged(sora_emulator, operation="create")) == 1
    assert store.read_json(ledger.record_blob) | {"recorded_at": 0} == {
        "job_id": job.id, "api": provider.api, "kind": "generation", "adopted": True, "recorded_at": 0,
    }  # fmt: skip


def test_a_rerun_after_a_crash_between_the_answer_and_the_record_adopts_the_job(store, provider, sora_emulator):
    ledger = ledger_for(store, sora_emulator)
    job_spec = spec(provider.api)
    intent = JobIntent.for_spec(job_spec, at=ledger.clock())
    # The first attempt wrote its intent and created the job, then died before recording it.
    store.write_json(ledger.intent_blob, intent.to_dict())
    lost = provider.create_job(job_spec)

    rerun = JobLedger(store, ledger.run_id, clock=ledger.clock)
    later = JobIntent.for_spec(job_spec, at=ledger.clock() + 60)
    job = rerun.start(provider, later, lambda: provider.create_job(job_spec))

    assert job.id == lost.id
    assert jobs_created(sora_emulator) == [lost.id]
    assert rerun.recorded_job_id() == lost.id


def test_a_rerun_after_the_record_only_reads_the_job(store, provider, sora_emulator):
    ledger = ledger_for(store, sora_emulator)
    first = start(ledger, provider, spec(provider.api))

    again = start(JobLedger(store, ledger.run_id, clock=ledger.clock), provider, spec(provider.api))

    assert again.id == first.id
    assert jobs_created(sora_emulator) == [first.id]
    assert len(logged(sora_emulator, operation="retrieve")) == 1


def test_a_rerun_whose_earlier_create_never_happened_creates_one_job(store, provider, sora_emulator):
    add_fault(sora_emulator, operation="create", kind="status", status=503)  # refused before anything was made
    ledger = ledger_for(store, sora_emulator)
    with pytest.raises(ProviderServerError):
        start(ledger, provider, spec(provider.api))
    assert jobs_created(sora_emulator) == []

    job = start(JobLedger(store, ledger.run_id, clock=ledger.clock), provider, spec(provider.api))

    assert jobs_created(sora_emulator) == [job.id]
    assert store.read_json(ledger.record_blob)["adopted"] is False


def test_two_runs_with_the_same_prompt_at_the_same_moment_each_get_their_own_job(store, provider, sora_emulator):
    add_fault(sora_emulator, operation="create", kind="drop", phase="after", count=2)
    job_spec = spec(provider.api, prompt="The same kite twice")
    first, second = ledger_for(store, sora_emulator), ledger_for(store, sora_emulator)
    clock = first.clock
    # Both runs wrote their intent, both creates reached the provider, both answers were lost.
    for ledger in (first, second):
        store.write_json(ledger.intent_blob, JobIntent.for_spec(job_spec, at=clock()).to_dict())
        with pytest.raises(ProviderUnavailable):
            provider.create_job(job_spec)

    jobs = [start(ledger, provider, job_spec) for ledger in (first, second)]

    assert sorted(job.id for job in jobs) == sorted(jobs_created(sora_emulator))
    assert len({job.id for job in jobs}) == 2, "each job is claimed by one run only"


def test_a_job_claimed_by_another_run_is_never_adopted(store, provider, sora_emulator):
    job_spec = spec(provider.api, prompt="A kite someone else flies")
    other = start(ledger_for(store, sora_emulator), provider, job_spec)
    add_fault(sora_emulator, operation="create", kind="status", status=502)  # nothing made, outcome unknown
    ledger = ledger_for(store, sora_emulator)

    with pytest.raises(ProviderServerError) as info:
        start(ledger, provider, job_spec)

    assert info.value.outcome_unknown
    assert len(logged(sora_emulator, operation="list")) >= 1, "the lost answer was looked for"
    assert jobs_created(sora_emulator) == [other.id]
    assert ledger.recorded_job_id() is None


@pytest.mark.parametrize(
    "difference",
    [{"prompt": "Another kite"}, {"width": 720, "height": 1280}, {"seconds": 8}],
    ids=["prompt", "size", "seconds"],
)
def test_a_lost_job_for_a_different_request_is_not_adopted(store, provider, sora_emulator, difference):
    job_spec = spec(provider.api)
    if provider.api == "videos" and "seconds" in difference:
        difference = {"seconds": "8"}
    ledger = ledger_for(store, sora_emulator)
    store.write_json(ledger.intent_blob, JobIntent.for_spec(job_spec, at=ledger.clock()).to_dict())
    unrelated = provider.create_job(spec(provider.api, **difference))  # an unclaimed job, answer lost elsewhere

    job = start(JobLedger(store, ledger.run_id, clock=ledger.clock), provider, job_spec)

    assert job.id != unrelated.id
    assert sorted(jobs_created(sora_emulator)) == sorted([unrelated.id, job.id])


def test_a_job_made_before_the_intent_is_not_adopted(store, provider, sora_emulator):
    job_spec = spec(provider.api)
    old = provider.create_job(job_spec)
    advance(sora_emulator, CLOCK_SKEW_SECONDS + 60)
    ledger = ledger_for(store, sora_emulator)
    store.write_json(ledger.intent_blob, JobIntent.for_spec(job_spec, at=ledger.clock()).to_dict())

    job = start(JobLedger(store, ledger.run_id, clock=ledger.clock), provider, job_spec)

    assert job.id != old.id
    assert len(jobs_created(sora_emulator)) == 2


def test_a_refused_create_is_not_looked_up(store, provider, sora_emulator):
    add_fault(sora_emulator, operation="create", kind="status", status=400, code="invalid_value")
    ledger = ledger_for(store, sora_emulator)

    with pytest.raises(ProviderBadRequest):
        start(ledger, provider, spec(provider.api))

    assert logged(sora_emulator, operation="list") == []
    assert ledger.recorded_job_id() is None


def test_a_lost_remix_answer_is_adopted_and_matched_to_its_source(store, sora_emulator):
    provider = build_provider(settings_for(sora_emulator.url, api="videos"), retry=FAST_RETRY)
    source = provider.create_job(spec("videos"))
    advance(sora_emulator, 120)
    # A remix of another video with the same prompt, its answer lost too, must not be taken for this run's.
    other_source = provider.create_job(spec("videos", prompt="Another park"))
    advance(sora_emulator, 120)
    add_fault(sora_emulator, operation="remix", kind="drop", phase="after")
    with pytest.raises(ProviderUnavailable):
        provider.remix_job(other_source.id, "Now at night")
    add_fault(sora_emulator, operation="remix", kind="drop", phase="after")
    ledger = ledger_for(store, sora_emulator, REMIX)

    intent = JobIntent.for_remix(source.id, "Now at night", at=ledger.clock())
    job = ledger.start(provider, intent, lambda: provider.remix_job(source.id, "Now at night"))

    assert job.remixed_from == source.id
    assert job.id == logged(sora_emulator, operation="remix")[-1]["job_id"]
    assert store.read_json(ledger.record_blob)["adopted"] is True
    provider.close()


def test_an_unknown_ledger_kind_is_refused(store):
    with pytest.raises(ValueError, match="kind"):
        JobLedger(store, "run-abc12345", "upscale")


@pytest.mark.parametrize("api", ["videos", "jobs"])
def test_two_copies_of_a_create_at_the_same_moment_make_one_job(store, sora_emulator, api):
    run_id = f"run-{uuid.uuid4().hex[:16]}"
    same_moment = threading.Barrier(2)
    jobs, errors = {}, []

    def copy(name: str) -> None:
        # Each copy as a separate activity worker has it: its own provider client and its own store.
        client = build_provider(settings_for(sora_emulator.url, api=api), retry=FAST_RETRY)
        ledger = JobLedger(BlobStore(store.connection, store.container), run_id, clock=emulator_clock(sora_emulator))
        try:
            same_moment.wait()
            jobs[name] = start(ledger, client, spec(api))
        except Exception as error:  # reported below, with the thread that raised it
            errors.append((name, error))
        finally:
            client.close()

    threads = [threading.Thread(target=copy, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    created = jobs_created(sora_emulator)
    assert len(created) == 1, created
    assert jobs["first"].id == jobs["second"].id == created[0]
    assert store.read_json(run_blob_of(run_id, "provider-job.json"))["job_id"] == created[0]


def test_a_lease_left_by_a_crashed_copy_expires_and_the_retry_creates_one_job(store, sora_emulator):
    provider = build_provider(settings_for(sora_emulator.url), retry=FAST_RETRY)
    ledger = ledger_for(store, sora_emulator)
    job_spec = spec("videos")
    # The crashed copy got as far as its intent and a 15 s lease (the shortest the service grants), then died.
    store.create_json_if_absent(ledger.intent_blob, JobIntent.for_spec(job_spec, at=ledger.clock()).to_dict())
    intent_client = store.container_client().get_blob_client(ledger.intent_blob)
    BlobLeaseClient(intent_client).acquire(lease_duration=15)
    assert intent_client.get_blob_properties().lease.state == "leased"

    job = start(ledger, provider, job_spec)

    assert jobs_created(sora_emulator) == [job.id]
    assert store.read_json(ledger.record_blob)["job_id"] == job.id
    provider.close()
