"""The one provider interface the pipeline uses, and the factory that picks and reuses the right client."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from soraflow.config import Settings
from soraflow.providers.auth import ApiKeyAuth, Auth, BearerTokenAuth, TokenCredential, default_credential
from soraflow.providers.endpoint import jobs_endpoint, videos_endpoint
from soraflow.providers.job import JobOutput, JobPage, JobSpec, ProviderJob, prompt_digest
from soraflow.providers.jobs import JobsClient
from soraflow.providers.retry import RetryPolicy
from soraflow.providers.transport import Download, Timeouts, Transport
from soraflow.providers.videos import VideosClient

if TYPE_CHECKING:
    import requests


@runtime_checkable
class VideoProvider(Protocol):
    """What the pipeline needs from a video provider, whichever API is behind it."""

    api: str

    def create_job(self, spec: JobSpec) -> ProviderJob: ...

    def get_job(self, job_id: str) -> ProviderJob: ...

    def delete_job(self, job_id: str) -> bool: ...

    def remix_job(self, job_id: str, prompt: str) -> ProviderJob: ...

    def list_jobs(self, *, limit: int | None = None, after: str | None = None) -> JobPage: ...

    def iter_jobs(self, *, page_size: int = ...) -> Iterator[ProviderJob]: ...

    def open_output(self, output: JobOutput) -> contextlib.AbstractContextManager[Download]: ...

    def close(self) -> None: ...


def build_provider(
    settings: Settings,
    *,
    credential: TokenCredential | None = None,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
    http_session: requests.Session | None = None,
) -> VideosClient | JobsClient:
    """A new client for the configured API (SORA_API), endpoint, path and auth; prefer `provider_client`."""
    if settings.sora_api == "jobs":
        endpoint = jobs_endpoint(settings.sora_endpoint, settings.sora_videos_path)
    else:
        endpoint = videos_endpoint(settings.sora_endpoint, settings.sora_videos_path)
    transport = Transport(
        endpoint,
        build_auth(settings, credential=credential),
        api=settings.sora_api,
        retry=retry,
        timeouts=timeouts,
        session=http_session,
    )
    return JobsClient(transport) if settings.sora_api == "jobs" else VideosClient(transport)


def build_auth(settings: Settings, *, credential: TokenCredential | None = None) -> Auth:
    """`api-key` when SORA_API_KEY is set, else an Entra token from `credential` or the app's identity."""
    if settings.sora_api_key:
        return ApiKeyAuth(settings.sora_api_key)
    if credential is not None:
        return BearerTokenAuth(credential)
    client_id = settings.azure_client_id
    return BearerTokenAuth(lambda: default_credential(client_id))


def find_jobs_by_prompt(
    provider: VideoProvider, prompt: str, *, created_after: int | None = None, max_jobs: int = 200
) -> list[ProviderJob]:
    """Jobs whose prompt matches, newest first, among the provider's recent jobs (for a create whose answer was lost).

    Lists newest first and stops at the first job created before `created_after` (epoch seconds) or after
    `max_jobs` jobs. Two runs with the same prompt in that window both match: the caller decides.
    """
    wanted = prompt_digest(prompt)
    matches: list[ProviderJob] = []
    for seen, job in enumerate(provider.iter_jobs(page_size=min(max_jobs, 100)), start=1):
        if created_after is not None and job.created_at is not None and job.created_at < created_after:
            break
        if job.prompt_digest == wanted:
            matches.append(job)
        if seen >= max_jobs:
            break
    return matches


_clients: dict[tuple, VideosClient | JobsClient] = {}
_clients_lock = threading.Lock()


def provider_client(settings: Settings) -> VideosClient | JobsClient:
    """The shared client for this configuration, built on first use and reused (one connection pool each)."""
    key = (
        settings.sora_api,
        settings.sora_endpoint,
        settings.sora_videos_path,
        settings.sora_api_key,
        settings.azure_client_id,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = build_provider(settings)
        return client


def close_provider_clients() -> None:
    """Close every shared client (tests, shutdown)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
