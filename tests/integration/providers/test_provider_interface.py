"""The pipeline's view: one VideoProvider interface, the same calls whichever API SORA_API selects."""

from __future__ import annotations

import hashlib
import inspect
import io

import pytest

from soraflow.errors import RequestValidationError
from soraflow.providers import (
    InputReference,
    JobOutput,
    JobsClient,
    JobSpec,
    JobStatus,
    ProviderJob,
    ProviderUnavailable,
    ProviderUnsupported,
    VideoProvider,
    VideosClient,
    build_provider,
    find_jobs_by_prompt,
)
from tests.integration.providers.conftest import (
    FAST_RETRY,
    add_fault,
    advance,
    copy_download,
    image_bytes,
    logged,
    settings_for,
)


@pytest.fixture(params=["videos", "jobs"])
def provider(request, sora_emulator):
    client = build_provider(settings_for(sora_emulator.url, api=request.param), retry=FAST_RETRY)
    yield client
    client.close()


def spec(api: str, **overrides) -> JobSpec:
    model = "sora-2" if api == "videos" else "sora"
    fields = {"prompt": "A kite over a park", "model": model, "width": 1280, "height": 720, "seconds": 4}
    return JobSpec(**{**fields, **overrides})


def declared(signature: inspect.Signature) -> tuple:
    """A signature as the Protocol declares it: each parameter's name, kind, annotation and whether it has a default
    (the Protocol writes `= ...` for "has one"), and the return annotation."""
    parameters = [(p.name, p.kind, p.annotation, p.default is not p.empty) for p in signature.parameters.values()]
    return parameters, signature.return_annotation


def test_the_configured_api_picks_the_client(provider):
    assert type(provider) is {"videos": VideosClient, "jobs": JobsClient}[provider.api]


@pytest.mark.parametrize("client", [VideosClient, JobsClient])
def test_each_client_has_every_method_of_the_interface_with_its_signature(client):
    # The Protocol's own methods (typing adds private ones such as `__init__` to every Protocol class).
    methods = [n for n, value in vars(VideoProvider).items() if inspect.isfunction(value) and not n.startswith("_")]
    assert {"create_job", "get_job", "open_output"} <= set(methods)
    for name in methods:
        assert declared(inspect.signature(getattr(client, name))) == declared(
            inspect.signature(getattr(VideoProvider, name))
        ), name


def test_create_poll_and_download_every_required_output_through_the_interface(provider, sora_emulator):
    created = provider.create_job(spec(provider.api))
    assert [e["operation"] for e in logged(sora_emulator, operation="create")] == ["create"]
    # What the orchestration keeps in durable history must survive JSON.
    restored = ProviderJob.from_dict(created.to_dict())
    advance(sora_emulator, 120)
    job = provider.get_job(restored.id)
    assert job.status is JobStatus.SUCCEEDED
    for entry in job.to_dict()["outputs"]:
        output = JobOutput.from_dict(entry)
        with provider.open_output(output) as download:
            assert copy_download(download, io.BytesIO()) == download.length > 0
    assert provider.list_jobs(limit=10).jobs[0].id == job.id
    assert [j.id for j in provider.iter_jobs()] == [job.id]
    assert provider.delete_job(job.id) is True


def test_create_with_an_image_through_the_interface(provider, sora_emulator):
    image = image_bytes(1280, 720)
    job = provider.create_job(spec(provider.api, input_reference=InputReference(image, "ref.png", "image/png")))
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    [create] = logged(sora_emulator, operation="create")
    assert create["job_id"] == job.id
    field = {"videos": "input_reference", "jobs": "files"}[provider.api]
    [part] = create["uploads"]
    assert (part["field"], part["filename"], part["content_type"]) == (field, "ref.png", "image/png")
    assert (part["bytes"], part["sha256"]) == (len(image), hashlib.sha256(image).hexdigest())


def test_an_output_of_the_other_api_is_refused(provider):
    other = "jobs" if provider.api == "videos" else "videos"
    with pytest.raises(ProviderUnsupported, match="cannot be downloaded"):
        provider.open_output(JobOutput(api=other, kind="video", index=0, source_id="x_1"))


def test_variants_on_the_videos_api_are_refused_before_any_request(sora_emulator):
    client = build_provider(settings_for(sora_emulator.url), retry=FAST_RETRY)
    try:
        with pytest.raises(RequestValidationError) as info:
            client.create_job(spec("videos", variants=2))
    finally:
        client.close()
    assert info.value.errors[0].field == "variants"
    assert logged(sora_emulator, operation="create") == []


def test_jobs_api_makes_every_variant(sora_emulator):
    client = build_provider(settings_for(sora_emulator.url, api="jobs"), retry=FAST_RETRY)
    try:
        job = client.create_job(spec("jobs", width=480, height=480, variants=3))
        advance(sora_emulator, 120)
        job = client.get_job(job.id)
    finally:
        client.close()
    assert [o.index for o in job.outputs if o.kind == "video"] == [0, 1, 2]


def test_a_create_whose_answer_was_lost_is_found_by_its_prompt(provider, sora_emulator):
    # Issue: a crash or a dropped connection between the provider accepting a job and the caller hearing of it.
    other = provider.create_job(spec(provider.api, prompt="Another kite"))  # another run's job, answered normally
    add_fault(sora_emulator, api=provider.api, operation="create", kind="drop", phase="after")
    with pytest.raises(ProviderUnavailable) as info:
        provider.create_job(spec(provider.api, prompt="The lost kite"))
    assert info.value.outcome_unknown
    [found] = find_jobs_by_prompt(provider, "The lost kite", created_after=other.created_at)
    assert found.id == logged(sora_emulator, operation="create")[-1]["job_id"]
    assert find_jobs_by_prompt(provider, "A kite nobody asked for") == []
    assert [j.id for j in find_jobs_by_prompt(provider, "Another kite")] == [other.id]
    assert len(logged(sora_emulator, operation="create")) == 2
