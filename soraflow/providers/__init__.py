"""Provider clients for both Sora APIs behind one interface: `provider_client(settings)` returns a VideoProvider."""

from soraflow.providers.errors import (
    ProviderAuthenticationError,
    ProviderBadRequest,
    ProviderContentPolicy,
    ProviderDownloadIncomplete,
    ProviderError,
    ProviderExpired,
    ProviderInvalidResponse,
    ProviderJobFailed,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderServerError,
    ProviderUnavailable,
    ProviderUnsupported,
)
from soraflow.providers.job import InputReference, JobError, JobOutput, JobPage, JobSpec, ProviderJob
from soraflow.providers.jobs import JobsClient
from soraflow.providers.provider import (
    VideoProvider,
    build_provider,
    close_provider_clients,
    find_jobs_by_prompt,
    provider_client,
)
from soraflow.providers.retry import RetryPolicy
from soraflow.providers.status import TERMINAL_STATUSES, JobStatus, map_status
from soraflow.providers.transport import Download, Timeouts
from soraflow.providers.videos import VideosClient

__all__ = [
    "TERMINAL_STATUSES",
    "Download",
    "InputReference",
    "JobError",
    "JobOutput",
    "JobPage",
    "JobSpec",
    "JobStatus",
    "JobsClient",
    "ProviderAuthenticationError",
    "ProviderBadRequest",
    "ProviderContentPolicy",
    "ProviderDownloadIncomplete",
    "ProviderError",
    "ProviderExpired",
    "ProviderInvalidResponse",
    "ProviderJob",
    "ProviderJobFailed",
    "ProviderNotFound",
    "ProviderRateLimited",
    "ProviderServerError",
    "ProviderUnavailable",
    "ProviderUnsupported",
    "RetryPolicy",
    "Timeouts",
    "VideoProvider",
    "VideosClient",
    "build_provider",
    "close_provider_clients",
    "find_jobs_by_prompt",
    "map_status",
    "provider_client",
]
