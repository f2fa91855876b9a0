"""soraflow's composition root: telemetry, one app, every feature blueprint registered; nothing else."""

import azure.durable_functions as df
import azure.functions as func

from activities import outputs, provider_jobs, quota_wakeups, run_index
from entities import provider_quota
from orchestrators import video_run
from soraflow.telemetry import configure_telemetry
from triggers import blob_requests, health, models, openapi, studio, videos_api, webhooks

configure_telemetry()
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (
    health.bp,
    openapi.bp,
    models.bp,
    videos_api.bp,
    blob_requests.bp,
    video_run.bp,
    provider_quota.bp,
    provider_jobs.bp,
    outputs.bp,
    run_index.bp,
    quota_wakeups.bp,
    webhooks.bp,
    studio.bp,
):
    app.register_functions(blueprint)
