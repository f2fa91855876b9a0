"""A run's ledger of paid provider jobs: an intent written before each create, the job recorded after it, and the
adoption of a job whose create answer was lost, so a re-run activity never pays for a second job.

The Sora APIs take no client-supplied idempotency key, so a lost answer can only be recovered by looking the job up:
by its prompt fingerprint, size, duration and variants, created since the intent (less a clock-skew margin). A claim
blob per provider job gives each job to at most one run, and a lease on the intent while creating makes a second copy
of the same activity wait and find the first one's job. A provider that cannot list its jobs (fal) is never asked
to: its completion webhook, recorded by the webhook route, names the job instead. docs/reliability.md says what this
cannot guarantee.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from soraflow.providers import (
    JobSpec,
    ProviderAuthenticationError,
    ProviderBadRequest,
    ProviderContentPolicy,
    ProviderError,
    ProviderJob,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderUnavailable,
    ProviderUnsupported,
    VideoProvider,
    find_jobs_by_prompt,
)
from soraflow.providers.job import prompt_digest
from soraflow.storage import BlobNotFoundError, BlobStore, BlobStoreError, run_blob
from soraflow.storage.blob_store import DEFAULT_LEASE_SECONDS, DEFAULT_LEASE_WAIT_SECONDS

log = logging.getLogger("soraflow.job_ledger")

GENERATION = "generation"
REMIX = "remix"
RECORDS = {GENERATION: "provider-job.json", REMIX: "provider-remix-job.json"}
INTENTS = {GENERATION: "provider-job-intent.json", REMIX: "provider-remix-job-intent.json"}
CLAIMS_FOLDER = "provider-jobs"
# Written by the webhook route when a provider pushes a run's completion: the request id, even if the create's
# answer never arrived.
PUSHED_RECORD = "provider-webhook.json"
# The provider stamps created_at with its clock, the intent carries ours: look back this far past the intent so a
# provider clock running behind ours still finds the job (a wider window only widens the candidates to match).
CLOCK_SKEW_SECONDS = 300
# How many of the provider's most recent jobs a lookup reads at most (newest first, two pages of 100).
LOOKUP_MAX_JOBS = 200

# Answers that prove the provider refused the create before starting anything: no job can exist to look for.
_REFUSALS = (
    ProviderBadRequest,
    ProviderAuthenticationError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderContentPolicy,
    ProviderUnsupported,
)


@dataclass(frozen=True)
class JobIntent:
    """What a run is about to ask the provider for, and when: enough to recognise the job if the answer is lost."""

    kind: str
    prompt: str = field(repr=False)
    at: float
    size: str | None = None
    seconds: str | None = None
    variants: int | None = None
    source_job_id: str | None = None
    model: str | None = None
    # True when the create asks the provider to push its completion (a webhook that can name a lost job).
    pushed: bool = False

    @classmethod
    def for_spec(cls, spec: JobSpec, *, at: float) -> JobIntent:
        """The intent of a generation from this spec."""
        return cls(
            GENERATION, spec.prompt, at, spec.size, str(spec.seconds), spec.variants, None, spec.model,
            spec.webhook_url is not None,
        )  # fmt: skip

    @classmethod
    def for_remix(cls, source_job_id: str, prompt: str, *, at: float) -> JobIntent:
        """The intent of a remix of `source_job_id` with this prompt."""
        return cls(REMIX, prompt, at, source_job_id=source_job_id)

    @property
    def prompt_digest(self) -> str | None:
        return prompt_digest(self.prompt)

    def to_dict(self) -> dict:
        """The stored form: the prompt's fingerprint, never the prompt itself."""
        return {
            "kind": self.kind,
            "prompt_digest": self.prompt_digest,
            "at": self.at,
            "size": self.size,
            "seconds": self.seconds,
            "variants": self.variants,
            "source_job_id": self.source_job_id,
            "model": self.model,
            "pushed": self.pushed,
        }

    def same_request(self, stored: dict) -> bool:
        """True when a stored intent was written for this same request (so its time still counts)."""
        mine = self.to_dict()
        if not isinstance(stored, dict) or isinstance(stored.get("at"), bool):
            return False
        # Intents stored before `model` and `pushed` were recorded lack them: absent counts as the same.
        optional = {"model", "pushed"}
        return isinstance(stored.get("at"), int | float) and all(
            stored.get(k) == mine[k] or (k in optional and k not in stored) for k in mine if k != "at"
        )

    def matches(self, job: ProviderJob) -> bool:
        """True when the job is what this intent asked for, as far as the provider reports it."""
        if self.prompt_digest is None or job.prompt_digest != self.prompt_digest:
            return False
        if self.kind == REMIX:
            return job.remixed_from in (None, self.source_job_id)
        if job.remixed_from is not None:
            return False
        reported = _reported_shape(job)
        wanted = {"size": self.size, "seconds": self.seconds, "variants": self.variants}
        return all(reported[k] is None or wanted[k] is None or reported[k] == str(wanted[k]) for k in wanted)


class JobLedger:
    """The provider jobs of one run (its generation, or its remix), kept in the run's folder in Blob Storage."""

    def __init__(
        self,
        store: BlobStore,
        run_id: str,
        kind: str = GENERATION,
        *,
        clock: Callable[[], float] = time.time,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        lease_wait_seconds: float = DEFAULT_LEASE_WAIT_SECONDS,
    ):
        if kind not in RECORDS:
            raise ValueError(f"kind must be one of {', '.join(RECORDS)}, got {kind!r}")
        self.store = store
        self.run_id = run_id
        self.kind = kind
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.lease_wait_seconds = lease_wait_seconds
        self.record_blob = run_blob(run_id, RECORDS[kind])
        self.intent_blob = run_blob(run_id, INTENTS[kind])

    def recorded_job_id(self) -> str | None:
        """The id of the job this run already created or adopted, if any."""
        record = self._read(self.record_blob)
        job_id = record.get("job_id") if isinstance(record, dict) else None
        return job_id if isinstance(job_id, str) and job_id else None

    def start(self, provider: VideoProvider, intent: JobIntent, create: Callable[[], ProviderJob]) -> ProviderJob:
        """The run's job: the one recorded, else one whose create answer was lost, else a new one from `create`."""
        recorded = self._recorded(provider)
        if recorded is not None:
            return recorded
        wrote_intent = self.store.create_json_if_absent(self.intent_blob, intent.to_dict())
        # Two copies of this activity at the same moment (a redelivered message, a host that thought the first one
        # lost) would both find no record: the lease lets one create while the other waits, then finds its record.
        with self.store.leased(self.intent_blob, seconds=self.lease_seconds, wait=self.lease_wait_seconds) as lease:
            recorded = self._recorded(provider)
            if recorded is not None:
                return recorded
            return self._create(provider, intent, create, wrote_intent=wrote_intent, lease=lease)

    def _create(
        self,
        provider: VideoProvider,
        intent: JobIntent,
        create: Callable[[], ProviderJob],
        *,
        wrote_intent: bool,
        lease: str,
    ) -> ProviderJob:
        earlier = None if wrote_intent else self._read(self.intent_blob)
        if intent.same_request(earlier) and not earlier.get("no_job"):
            # An earlier attempt got as far as the intent: its job may exist although its answer never arrived.
            intent = replace(intent, at=float(earlier["at"]))
            adopted = self.adopt(provider, intent)
            if adopted is not None:
                return adopted
            if not lists_jobs(provider):
                raise self._unrecoverable(intent)
        elif not wrote_intent:
            self.store.write_json(self.intent_blob, intent.to_dict(), lease=lease)
        try:
            job = create()
        except ProviderError as error:
            if isinstance(error, _REFUSALS) or _answered_without_job(error):
                # Provably no job: say so, so that the next attempt creates without a lookup (a provider that cannot
                # list would otherwise have to stop the run rather than risk paying twice).
                self.store.write_json(self.intent_blob, {**intent.to_dict(), "no_job": True}, lease=lease)
            if isinstance(error, _REFUSALS):
                raise
            # The create may have reached the provider (a dropped answer, a gateway error, a garbled 200).
            adopted = self._adopt_after(provider, intent, error)
            if adopted is not None:
                return adopted
            raise
        if not self.claim(job):
            # A run whose own create answer was lost took this new job for its own in the moment before this claim
            # (docs/reliability.md, "Matching can mis-adopt"): this run still uses the job it made.
            holder = self._read(claim_blob(job)) or {}
            log.warning("run %s: new provider job %s was claimed by run %s", self.run_id, job.id, holder.get("run_id"))
        self._record(job, adopted=False)
        log.info("run %s: created provider %s job %s", self.run_id, self.kind, job.id)
        return job

    def adopt(self, provider: VideoProvider, intent: JobIntent) -> ProviderJob | None:
        """Find, claim and record the job this intent made if the provider has it; None when there is none."""
        if not lists_jobs(provider):
            return self._adopt_pushed(provider, intent)
        candidates = find_jobs_by_prompt(
            provider, intent.prompt, created_after=int(intent.at - CLOCK_SKEW_SECONDS), max_jobs=LOOKUP_MAX_JOBS
        )
        # Oldest first: of two lost answers, the earlier job is more likely this intent's (any match is equivalent).
        for job in sorted(candidates, key=lambda j: (j.created_at or 0, j.id)):
            if intent.matches(job) and self.claim(job):
                self._record(job, adopted=True)
                log.warning("run %s: adopted provider %s job %s whose answer was lost", self.run_id, self.kind, job.id)
                return job
        return None

    def _adopt_pushed(self, provider: VideoProvider, intent: JobIntent) -> ProviderJob | None:
        """The job the provider's webhook named for this run, claimed and recorded; None before any webhook came."""
        pushed = self._read(run_blob(self.run_id, PUSHED_RECORD)) if self.kind == GENERATION else None
        request_id = pushed.get("request_id") if isinstance(pushed, dict) else None
        if not isinstance(request_id, str) or not request_id or intent.model is None:
            return None
        job = provider.job_for_pushed_request(intent.model, request_id)
        if not self.claim(job):
            return None
        self._record(job, adopted=True)
        log.warning(
            "run %s: adopted provider job %s from its webhook (the create's answer was lost)", self.run_id, job.id
        )
        return job

    def _unrecoverable(self, intent: JobIntent) -> ProviderError:
        """Why a run whose earlier create may have started a job, at a provider we cannot search, does not create."""
        if intent.pushed:
            return ProviderUnavailable(
                "An earlier create's answer was lost and this provider cannot list its jobs: waiting for its webhook "
                "to name the job rather than paying for a second one. Retrying later may help.",
                operation="create",
                outcome_unknown=True,
            )
        return ProviderUnavailable(
            "An earlier create's answer was lost and this provider cannot list its jobs, so whether it started a "
            "paid job is unknown: not creating a second one. (A provider that pushes completion, such as fal, names "
            "the job through its webhook when PUBLIC_BASE_URL is set.) Retrying the same request will not help.",
            operation="create",
            outcome_unknown=True,
            retryable=False,
        )

    def claim(self, job: ProviderJob) -> bool:
        """Give the job to this run unless another run holds it; True when this run holds it."""
        blob = claim_blob(job)
        body = {"job_id": job.id, "api": job.api, "run_id": self.run_id, "claimed_at": self.clock()}
        if self.store.create_json_if_absent(blob, body):
            return True
        holder = self._read(blob)
        return isinstance(holder, dict) and holder.get("run_id") == self.run_id

    def _recorded(self, provider: VideoProvider) -> ProviderJob | None:
        recorded = self.recorded_job_id()
        if recorded is None:
            return None
        log.info("run %s: %s job %s already exists; not creating another", self.run_id, self.kind, recorded)
        return provider.get_job(recorded)

    def _adopt_after(self, provider: VideoProvider, intent: JobIntent, error: ProviderError) -> ProviderJob | None:
        try:
            return self.adopt(provider, intent)
        except (ProviderError, BlobStoreError) as lookup_error:
            # The create's own error says more; the next attempt looks again (the intent is stored).
            log.warning("run %s: looking up a lost %s job failed: %s", self.run_id, self.kind, lookup_error)
            return None

    def _record(self, job: ProviderJob, *, adopted: bool) -> None:
        record = {"job_id": job.id, "api": job.api, "kind": self.kind, "adopted": adopted, "recorded_at": self.clock()}
        self.store.write_json(self.record_blob, record)

    def _read(self, blob: str) -> Any:
        try:
            return self.store.read_json(blob)
        except BlobNotFoundError:
            return None


def _answered_without_job(error: ProviderError) -> bool:
    """True for an HTTP error answer after which no job can exist (a 503: not the 500/502/504 of a lost upstream)."""
    return error.http_status is not None and error.http_status >= 400 and not error.outcome_unknown


def lists_jobs(provider: VideoProvider) -> bool:
    """Whether the provider's client can list its jobs (fal's queue cannot; its clients say `lists_jobs = False`)."""
    return getattr(provider, "lists_jobs", True) is not False


def record_pushed_request(store: BlobStore, run_id: str, request_id: str, *, status: str, at: float) -> bool:
    """Keep the request id a provider's webhook named for a run (the first one wins); True when this one was kept."""
    body = {"request_id": request_id, "status": status, "received_at": at}
    return store.create_json_if_absent(run_blob(run_id, PUSHED_RECORD), body)


def claim_blob(job: ProviderJob) -> str:
    """Where the claim on a provider job is kept (its id hashed: a provider id is not trusted as a blob name)."""
    digest = hashlib.sha256(f"{job.api}\n{job.id}".encode()).hexdigest()[:40]
    return f"{CLAIMS_FOLDER}/{digest}.json"


def _reported_shape(job: ProviderJob) -> dict[str, str | None]:
    """The size, duration and variant count the provider reports for a job (None where it reports nothing)."""
    extra = job.extra
    size = extra.get("size")
    if size is None and extra.get("width") is not None and extra.get("height") is not None:
        size = f"{extra['width']}x{extra['height']}"
    seconds = extra.get("seconds", extra.get("n_seconds"))
    variants = extra.get("n_variants", 1 if job.api == "videos" else None)
    shape = {"size": size, "seconds": seconds, "variants": variants}
    return {name: None if value is None else str(value) for name, value in shape.items()}
