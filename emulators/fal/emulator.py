"""The fal emulator's state: clock, queue, faults, request log, media, webhook key and deliveries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from emulators.fal import webhooks
from emulators.fal.models import Generation
from emulators.fal.queue import MEDIA_RETENTION_SECONDS, FalRequest, Plan, Queue
from emulators.fal.webhooks import Delivery, WebhookSigner
from emulators.sora.clock import Clock
from emulators.sora.faults import FaultBook
from emulators.sora.media import MediaLibrary, MediaSource
from emulators.sora.request_log import RequestLog

# The fault vocabulary: `queue` calls (submit, status, result, cancel) and the `cdn` serving output files.
APIS = ("queue", "cdn", "any")
OPERATIONS = ("submit", "status", "result", "cancel", "media", "any")
APPLIES_TO = {"truncate": {"media"}, "stall": {"submit"}}
FILE_NAME = "output.mp4"


@dataclass(frozen=True)
class Options:
    """What the command line sets; `/_emulator/reset` can override time_scale and max_concurrent_jobs."""

    media_cache: Path
    api_key: str | None = None
    time_scale: float = 1.0
    max_concurrent_jobs: int = 2
    media_retention: float = MEDIA_RETENTION_SECONDS
    webhook_key: Path | None = None
    webhook_user_id: str = "emulator-user"
    jwks_path: str = "/.well-known/jwks.json"
    validation_errors: str = "result"  # "result": reported when the request completes, as fal does; "submit": 422


class FalEmulator:
    """Everything one fal emulator process knows."""

    def __init__(self, options: Options):
        self.options = options
        self.clock = Clock()
        self.media = MediaLibrary(options.media_cache)
        self.faults = FaultBook(apis=APIS, operations=OPERATIONS, applies_to=APPLIES_TO, streamed="media")
        self.log = RequestLog()
        self.signer = WebhookSigner(options.webhook_key, user_id=options.webhook_user_id)
        self.time_scale = options.time_scale
        self.max_concurrent_jobs = options.max_concurrent_jobs
        self.queue = Queue(self.max_concurrent_jobs)
        self.deliveries: dict[str, Delivery] = {}

    def reset(self, *, time_scale: float | None = None, max_concurrent_jobs: int | None = None) -> None:
        """Drop requests, deliveries, faults and the log; the clock offset is kept so time never runs backwards."""
        self.time_scale = self.options.time_scale if time_scale is None else time_scale
        self.max_concurrent_jobs = (
            self.options.max_concurrent_jobs if max_concurrent_jobs is None else max_concurrent_jobs
        )
        self.queue = Queue(self.max_concurrent_jobs)
        self.deliveries = {}
        self.faults.clear()
        self.log.clear()

    def describe(self) -> dict:
        """The settings in force, for `/_emulator/status` and `/_emulator/reset`."""
        now = self.clock.now()
        plans = self.queue.plan()
        return {
            "time_scale": self.time_scale,
            "max_concurrent_jobs": self.max_concurrent_jobs,
            "api_key_required": self.options.api_key is not None,
            "media_cache": str(self.options.media_cache),
            "now": now,
            "active_jobs": self.queue.active(plans, now),
            "queued_jobs": len(self.queue.waiting(plans, now)),
            "media_retention_seconds": self.options.media_retention * self.time_scale,
            "validation_errors": self.options.validation_errors,
            "jwks_path": self.options.jwks_path,
            "webhook_user_id": self.signer.user_id,
        }

    async def video_file(self, generation: Generation) -> Path:
        """The MP4 of a generation: the shared media library's render, its audio track removed when silent.

        The silent copy goes through the library's cache (one render per name, under a lock, written beside the
        target and renamed), so a webhook and a result call asking at once get one whole file."""
        source = MediaSource(generation.width, generation.height, generation.seconds)
        video = await self.media.video(source)
        if generation.audio:
            return video

        async def drop_audio(out: Path) -> None:
            argv = [self.media.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(video)]
            argv += ["-an", "-c:v", "copy", "-movflags", "+faststart", "-f", "mp4", str(out)]
            process = await asyncio.create_subprocess_exec(*argv, stderr=asyncio.subprocess.PIPE)
            _, stderr = await process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"ffmpeg could not drop the audio track: {stderr.decode(errors='replace')[-500:]}")

        return await self.media.cached(f"silent-{source.key()}.mp4", drop_audio)

    async def result(self, request: FalRequest, plan: Plan) -> tuple[int, dict, dict[str, str]]:
        """The HTTP status, body and headers of a completed request's result."""
        if plan.outcome == "cancelled":
            error = {"detail": "The request was cancelled before it started.", "error_type": "client_cancelled"}
            return 499, error, {"X-Fal-Error-Type": "client_cancelled"}
        if plan.outcome == "timeout":
            headers = {"X-Fal-Error-Type": "request_timeout", "X-Fal-Request-Timeout-Type": "user"}
            return 504, {"detail": "Request timed out", "error_type": "request_timeout"}, headers
        if plan.outcome == "failure" and request.failure is not None:
            return request.failure.http_status, request.failure.body, dict(request.failure.headers)
        path = await self.video_file(request.generation)
        video = {
            "url": f"{request.origin}/files/{request.media_token}/{FILE_NAME}",
            "content_type": "video/mp4",
            "file_name": FILE_NAME,
            "file_size": path.stat().st_size,
        }
        return 200, {"video": video}, {}


async def dispatch_webhooks(emulator_of) -> None:
    """Deliver every due webhook, forever (runs as a background task of the app)."""
    in_flight: set[asyncio.Task] = set()
    async with aiohttp.ClientSession() as session:
        while True:
            emulator: FalEmulator = emulator_of()
            now = emulator.clock.now()
            plans = emulator.queue.plan()
            for delivery in list(emulator.deliveries.values()):
                plan = plans.get(delivery.request_id)
                if plan is None or plan.outcome == "cancelled" or delivery.delivered or delivery.in_flight:
                    continue
                if len(delivery.attempts) > len(webhooks.RETRY_DELAYS) or plan.end > now or delivery.due_at > now:
                    continue
                delivery.in_flight = True
                task = asyncio.create_task(_send(session, emulator, delivery, plan, now))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            await asyncio.sleep(webhooks.POLL_SECONDS)


async def _send(session: aiohttp.ClientSession, emulator: FalEmulator, delivery: Delivery, plan: Plan, now: float):
    try:
        request = emulator.queue.requests[delivery.request_id]
        status, result, _ = await emulator.result(request, plan)
    except Exception as exc:  # the output could not be made: count it as a failed attempt, retried later
        webhooks.record_failure(delivery, now, emulator.time_scale, f"{type(exc).__name__}: {exc}")
        delivery.in_flight = False
        return
    try:
        body = webhooks.webhook_body(request.id, status, result)
        await webhooks.deliver(session, emulator.signer, delivery, body, now, emulator.time_scale)
    finally:
        delivery.in_flight = False
