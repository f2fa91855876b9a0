"""Activities over the provider: create (at most one paid job per run), read, remix and delete jobs.

A create is the one call that costs money. The run's job ledger (`soraflow.job_ledger`) writes an intent before
creating and the job id right after the provider answers, so an activity re-run (at-least-once delivery, a host
restart, an answer lost on the way back) returns or adopts the job the run already has instead of creating another.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from datetime import timedelta
from urllib.parse import urlencode

import azure.durable_functions as df

from activities.failures import activity_errors
from soraflow.config import Settings
from soraflow.job_ledger import GENERATION, REMIX, JobIntent, JobLedger
from soraflow.providers import InputReference, JobSpec, ProviderNotFound
from soraflow.providers.registry import client_for, plugin_for
from soraflow.storage import output_store
from soraflow.video_request import VideoRequest

bp = df.Blueprint()
log = logging.getLogger("soraflow.activities")

CREATE_PROVIDER_JOB = "create_provider_job"
REMIX_PROVIDER_JOB = "remix_provider_job"
GET_PROVIDER_JOB = "get_provider_job"
DELETE_PROVIDER_JOB = "delete_provider_job"
# A provider that fetches the reference does so when the job starts, which the quota gate keeps soon after create.
REFERENCE_URL_TTL = timedelta(hours=1)


@bp.function_name(CREATE_PROVIDER_JOB)
@bp.activity_trigger(input_name="payload")
def create_provider_job(payload: dict) -> dict:
    """Create the run's provider job, or return the one it already created (or whose answer was lost)."""
    with activity_errors():
        ledger = JobLedger(output_store(), payload["run_id"], GENERATION)
        request = VideoRequest.from_dict(payload["request"])
        settings = Settings.from_env()
        spec = JobSpec(
            prompt=request.prompt,
            model=request.model,
            width=request.width,
            height=request.height,
            seconds=request.seconds,  # each provider encodes it as its API wants ("8", 8, "8s")
            variants=request.variants,
            options=dict(request.provider_options),
            webhook_url=webhook_url(request, payload["run_id"], settings),
        )
        provider = client_for(request.provider, settings)
        caps = plugin_for(request).capabilities(request.model, settings)
        intent = JobIntent.for_spec(spec, at=ledger.clock())
        reference = payload.get("reference")
        fetched = caps is not None and caps.reference is not None and caps.reference.transport == "url"
        return ledger.start(
            provider, intent, lambda: provider.create_job(with_reference(spec, reference, as_url=fetched))
        ).to_dict()


@bp.function_name(REMIX_PROVIDER_JOB)
@bp.activity_trigger(input_name="payload")
def remix_provider_job(payload: dict) -> dict:
    """Start the remix of a finished provider video, or return the remix job this run already started."""
    with activity_errors():
        ledger = JobLedger(output_store(), payload["run_id"], REMIX)
        provider = client_for(payload.get("provider"), Settings.from_env())
        source, prompt = payload["source_job_id"], payload["prompt"]
        intent = JobIntent.for_remix(source, prompt, at=ledger.clock())
        return ledger.start(provider, intent, lambda: provider.remix_job(source, prompt)).to_dict()


def webhook_url(request: VideoRequest, run_id: str, settings: Settings) -> str | None:
    """Where a provider that pushes completion posts it for this run: PUBLIC_BASE_URL, else the app's Azure host
    name (WEBSITE_HOSTNAME); None without either (the run then only polls)."""
    caps = plugin_for(request).capabilities(request.model, settings)
    host = os.environ.get("WEBSITE_HOSTNAME", "").strip()
    base = settings.public_base_url or (f"https://{host}" if host else None)
    if caps is None or not caps.pushes_completion or not base:
        return None
    return f"{base.rstrip('/')}/api/webhooks/{request.provider}?{urlencode({'run': run_id})}"


def with_reference(spec: JobSpec, reference: dict | None, *, as_url: bool = False) -> JobSpec:
    """The spec with the run's prepared reference image read from Blob Storage (only when a create is sent), or,
    `as_url`, a read-only URL to it for a provider that fetches its reference (valid REFERENCE_URL_TTL)."""
    if not reference:
        return spec
    store = output_store()
    if as_url:
        found = store.find(reference["blob"])
        content_type = (found.content_type if found else None) or "image/png"
        url = store.read_url(reference["blob"], ttl=REFERENCE_URL_TTL)
        image = InputReference(b"", "reference." + content_type.split("/")[-1], content_type, url=url)
        return dataclasses.replace(spec, input_reference=image)
    reader = store.open_read(reference["blob"])
    content_type = reader.blob.content_type or "image/png"
    image = InputReference(reader.read(), "reference." + content_type.split("/")[-1], content_type)
    return dataclasses.replace(spec, input_reference=image)


@bp.function_name(GET_PROVIDER_JOB)
@bp.activity_trigger(input_name="payload")
def get_provider_job(payload: dict) -> dict:
    """The provider job's current state (normalised status, progress, outputs, poll hint)."""
    with activity_errors():
        return client_for(payload.get("provider"), Settings.from_env()).get_job(payload["job_id"]).to_dict()


@bp.function_name(DELETE_PROVIDER_JOB)
@bp.activity_trigger(input_name="payload")
def delete_provider_job(payload: dict) -> dict:
    """Delete the provider's copy; a job that is already gone counts as deleted."""
    with activity_errors():
        try:
            deleted = client_for(payload.get("provider"), Settings.from_env()).delete_job(payload["job_id"])
        except ProviderNotFound:
            deleted = False
        return {"job_id": payload["job_id"], "deleted": deleted}
