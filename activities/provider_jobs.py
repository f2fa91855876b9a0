"""Activities over the provider: create (at most once per run), read, remix and delete jobs.

A create is the one call that costs money, so before creating, the activity looks for the job this run already
made: its id is written to `runs/{id}/provider-job.json` right after the provider answers. An activity re-run
(at-least-once delivery, a host restart) finds that record and reads the job instead of creating another.
"""

from __future__ import annotations

import logging

import azure.durable_functions as df

from activities.failures import activity_errors
from soraflow.config import Settings
from soraflow.providers import InputReference, JobSpec, ProviderNotFound, provider_client
from soraflow.storage import output_store, run_blob
from soraflow.video_request import VideoRequest

bp = df.Blueprint()
log = logging.getLogger("soraflow.activities")

JOB_RECORD = "provider-job.json"
REMIX_JOB_RECORD = "provider-remix-job.json"


@bp.activity_trigger(input_name="payload")
def create_provider_job(payload: dict) -> dict:
    """Create the run's provider job, or return the one it already created."""
    with activity_errors():
        run_id = payload["run_id"]
        provider = provider_client(Settings.from_env())
        existing = recorded_job(run_id, JOB_RECORD)
        if existing is not None:
            log.info("run %s: provider job %s already exists; not creating another", run_id, existing)
            return provider.get_job(existing).to_dict()
        request = VideoRequest.from_dict(payload["request"])
        reference = None
        if payload.get("reference"):
            reader = output_store().open_read(payload["reference"]["blob"])
            content_type = reader.blob.content_type or "image/png"
            reference = InputReference(reader.read(), "reference." + content_type.split("/")[-1], content_type)
        spec = JobSpec(
            prompt=request.prompt,
            model=request.model,
            width=request.width,
            height=request.height,
            seconds=request.provider_seconds if request.api == "videos" else request.seconds,
            variants=request.variants,
            input_reference=reference,
        )
        job = provider.create_job(spec)
        record_job(run_id, JOB_RECORD, job.id)
        log.info("run %s: created provider job %s", run_id, job.id)
        return job.to_dict()


@bp.activity_trigger(input_name="payload")
def remix_provider_job(payload: dict) -> dict:
    """Start the remix of a finished provider video, or return the remix job this run already started."""
    with activity_errors():
        run_id = payload["run_id"]
        provider = provider_client(Settings.from_env())
        existing = recorded_job(run_id, REMIX_JOB_RECORD)
        if existing is not None:
            return provider.get_job(existing).to_dict()
        job = provider.remix_job(payload["source_job_id"], payload["prompt"])
        record_job(run_id, REMIX_JOB_RECORD, job.id)
        log.info("run %s: remixing %s as %s", run_id, payload["source_job_id"], job.id)
        return job.to_dict()


@bp.activity_trigger(input_name="payload")
def get_provider_job(payload: dict) -> dict:
    """The provider job's current state (normalised status, progress, outputs, poll hint)."""
    with activity_errors():
        return provider_client(Settings.from_env()).get_job(payload["job_id"]).to_dict()


@bp.activity_trigger(input_name="payload")
def delete_provider_job(payload: dict) -> dict:
    """Delete the provider's copy; a job that is already gone counts as deleted."""
    with activity_errors():
        try:
            deleted = provider_client(Settings.from_env()).delete_job(payload["job_id"])
        except ProviderNotFound:
            deleted = False
        return {"job_id": payload["job_id"], "deleted": deleted}


def recorded_job(run_id: str, record: str) -> str | None:
    store = output_store()
    name = run_blob(run_id, record)
    if not store.exists(name):
        return None
    return store.read_json(name).get("job_id")


def record_job(run_id: str, record: str, job_id: str) -> None:
    output_store().write_json(run_blob(run_id, record), {"job_id": job_id})
