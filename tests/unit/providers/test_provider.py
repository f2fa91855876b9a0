"""Choosing and reusing the client for a configuration; no network or credential work happens here."""

import pytest

from soraflow.config import Settings
from soraflow.errors import ConfigurationError
from soraflow.providers import (
    JobsClient,
    JobStatus,
    ProviderJob,
    VideosClient,
    close_provider_clients,
    find_jobs_by_prompt,
    provider_client,
)
from soraflow.providers.auth import ApiKeyAuth, BearerTokenAuth
from soraflow.providers.job import prompt_digest
from soraflow.providers.provider import build_auth

BASE = {"SORA_ENDPOINT": "https://res.openai.azure.com", "SORA_API_KEY": "key-0123456789abcdef"}


@pytest.fixture(autouse=True)
def fresh_clients():
    close_provider_clients()
    yield
    close_provider_clients()


def test_one_client_per_configuration_is_built_lazily_and_reused():
    videos = provider_client(Settings.from_env(BASE))
    assert isinstance(videos, VideosClient)
    assert provider_client(Settings.from_env(BASE)) is videos
    jobs = provider_client(Settings.from_env({**BASE, "SORA_API": "jobs"}))
    assert isinstance(jobs, JobsClient) and jobs is not videos
    other = provider_client(Settings.from_env({**BASE, "SORA_ENDPOINT": "https://other.openai.azure.com"}))
    assert other is not videos


def test_closing_forgets_the_shared_clients():
    first = provider_client(Settings.from_env(BASE))
    close_provider_clients()
    assert provider_client(Settings.from_env(BASE)) is not first


def test_api_key_setting_selects_the_api_key_header():
    assert isinstance(build_auth(Settings.from_env(BASE)), ApiKeyAuth)


def test_without_a_key_entra_is_used_and_the_identity_is_not_built_yet():
    settings = Settings.from_env({"SORA_ENDPOINT": "https://res.openai.azure.com", "AZURE_CLIENT_ID": "abc"})
    auth = build_auth(settings)
    assert isinstance(auth, BearerTokenAuth)
    assert auth.secrets() == ()


def test_a_bad_custom_path_fails_naming_the_setting_when_the_client_is_built():
    settings = Settings.from_env({**BASE, "SORA_VIDEOS_PATH": "no-leading-slash"})
    with pytest.raises(ConfigurationError, match="SORA_VIDEOS_PATH"):
        provider_client(settings)


class ListedJobs:
    """Only the listing half of a provider: the jobs it reports, newest first."""

    def __init__(self, jobs):
        self.jobs = jobs
        self.read = 0

    def iter_jobs(self, *, page_size=100):
        for job in self.jobs:
            self.read += 1
            yield job


def listed(job_id: str, prompt: str, created_at: int) -> ProviderJob:
    return ProviderJob(
        api="videos",
        id=job_id,
        status=JobStatus.QUEUED,
        provider_status="queued",
        created_at=created_at,
        prompt_digest=prompt_digest(prompt),
    )


def test_finding_a_lost_job_stops_at_the_time_window_and_the_budget():
    jobs = ListedJobs([listed("v5", "b", 500), listed("v4", "a", 400), listed("v3", "a", 300), listed("v2", "a", 200)])
    assert [j.id for j in find_jobs_by_prompt(jobs, "a", created_after=300)] == ["v4", "v3"]
    assert jobs.read == 4
    assert [j.id for j in find_jobs_by_prompt(ListedJobs(jobs.jobs), "a", max_jobs=2)] == ["v4"]
    assert find_jobs_by_prompt(ListedJobs(jobs.jobs), "c") == []
