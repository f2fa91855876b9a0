"""A minimal Cloud Storage JSON API for the videos Veo wrote to `storageUri`: object metadata and media download."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web

from emulators.sora.downloads import stream_file
from emulators.sora.emulator import emulator_of, operation, record_job
from emulators.vertex.emulator import STORAGE_API
from emulators.vertex.errors import GoogleError
from emulators.vertex.operations import VIDEO_MIME_TYPE, Operation, Sample

OBJECT_PATH = "/storage/v1/b/{bucket}/o/{object:.+}"
DOWNLOAD_PATH = "/download/storage/v1/b/{bucket}/o/{object:.+}"


class StorageError(GoogleError):
    """Cloud Storage's older JSON error body: `{"error": {"code", "message", "errors": [{…, "reason"}]}}`."""

    def __init__(self, code: int, message: str, *, reason: str):
        super().__init__(code, message)
        self.reason = reason

    def body(self) -> dict:
        """The JSON body Cloud Storage sends for this error."""
        errors = [{"message": self.message, "domain": "global", "reason": self.reason}]
        return {"error": {"code": self.code, "message": self.message, "errors": errors}}


def _object_operation(request: web.Request) -> str:
    return "content" if request.query.get("alt") == "media" else "metadata"


def _find(request: web.Request) -> tuple[Operation, Sample]:
    bucket, name = request.match_info["bucket"], request.match_info["object"]
    emulator = emulator_of(request)
    found = emulator.store.find_object(bucket, name, emulator.clock.now())
    if found is None:
        raise StorageError(404, f"No such object: {bucket}/{name}", reason="notFound")
    record_job(request, found[0].id)
    return found


async def _metadata(request: web.Request, owner: Operation, sample: Sample) -> web.Response:
    path = await emulator_of(request).media.video(sample.source)
    created = owner.timeline.ended_at() or owner.timeline.start
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    generation = str(int(created * 1_000_000))
    bucket, name = sample.gcs_bucket, sample.gcs_object
    return web.json_response(
        {
            "kind": "storage#object",
            "id": f"{bucket}/{name}/{generation}",
            "name": name,
            "bucket": bucket,
            "generation": generation,
            "metageneration": "1",
            "contentType": VIDEO_MIME_TYPE,
            "size": str(path.stat().st_size),
            "timeCreated": stamp,
            "updated": stamp,
            "mediaLink": f"{request.url.origin()}/download/storage/v1/b/{bucket}/o/{quote(name, safe='')}"
            f"?generation={generation}&alt=media",
        }
    )


@operation(STORAGE_API, _object_operation)
async def get_object(request: web.Request) -> web.StreamResponse:
    """GET /storage/v1/b/{bucket}/o/{object}: the object's metadata, or with `alt=media` its bytes."""
    owner, sample = _find(request)
    if request.query.get("alt") != "media":
        return await _metadata(request, owner, sample)
    path = await emulator_of(request).media.video(sample.source)
    return await stream_file(request, path, VIDEO_MIME_TYPE)


@operation(STORAGE_API, "content")
async def download_object(request: web.Request) -> web.StreamResponse:
    """GET /download/storage/v1/b/{bucket}/o/{object}?alt=media: the object's bytes (the media download host path)."""
    _, sample = _find(request)
    path = await emulator_of(request).media.video(sample.source)
    return await stream_file(request, path, VIDEO_MIME_TYPE)


def routes() -> list[web.RouteDef]:
    """The Cloud Storage routes."""
    return [
        web.get(OBJECT_PATH, get_object, allow_head=False),
        web.get(DOWNLOAD_PATH, download_object, allow_head=False),
    ]
