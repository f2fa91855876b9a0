"""Streaming a file as an HTTP response in chunks, with the `truncate` and `drop` faults applied mid-body."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from emulators.sora.emulator import FAULT, LOG_ENTRY

CHUNK_BYTES = 256 * 1024


async def stream_file(request: web.Request, path: Path, content_type: str) -> web.StreamResponse:
    """Send `path` with exact Content-Type and Content-Length, cut short when a content fault says so."""
    size = path.stat().st_size
    fault = request.pop(FAULT, None)
    cut_at = None
    if fault is not None and fault.kind in ("truncate", "drop"):
        cut_at = min(size, fault.bytes if fault.bytes is not None else size // 2)
    response = web.StreamResponse(status=200)
    response.content_type = content_type
    response.content_length = size
    response.headers["Cache-Control"] = "no-store"
    await response.prepare(request)
    entry = request.get(LOG_ENTRY)
    if entry is not None:
        entry["status"] = 200
    sent = 0
    limit = size if cut_at is None else cut_at
    with path.open("rb") as file:
        while sent < limit:
            chunk = file.read(min(CHUNK_BYTES, limit - sent))
            if not chunk:
                break
            await response.write(chunk)
            sent += len(chunk)
    if cut_at is None:
        await response.write_eof()
        return response
    transport = request.transport
    if transport is not None:
        if fault.kind == "drop":
            # Let the bytes already written reach the client, then reset the connection.
            await asyncio.sleep(0.05)
            transport.abort()
        else:
            # A clean close after fewer bytes than Content-Length announced.
            transport.close()
    return response
