"""The host process: loads the app, serves HTTP on loopback, runs the durable dispatchers, shuts down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from emulators.functions.activities import ActivityRunner
from emulators.functions.application import FunctionApp
from emulators.functions.blob_triggers import WEBHOOK_PATH as BLOB_WEBHOOK_PATH
from emulators.functions.blob_triggers import BlobTriggers
from emulators.functions.dispatchers import KeyedDispatcher, TimerClock
from emulators.functions.durable_api import RPC_PATH, WEBHOOK_PATH, DurableApi
from emulators.functions.entities import Entities
from emulators.functions.http_triggers import HttpTriggers
from emulators.functions.keys import HostKeys
from emulators.functions.orchestrations import Orchestrations, ReplayMetrics, Wakers
from emulators.functions.store import DurableStore
from emulators.processes import free_port

log = logging.getLogger("host")

# Azure's limit on an HTTP request body; the FUNCTIONS_REQUEST_BODY_SIZE_LIMIT app setting changes it there too.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
# How long requests still in flight at shutdown may take (aiohttp's default, 60 s, would hold a stop for a minute
# behind one long `?timeout=` wait); running orchestrations and activities get HostOptions.shutdown_grace_seconds.
HTTP_SHUTDOWN_SECONDS = 2.0


def request_body_limit() -> int:
    """The largest request body accepted, in bytes."""
    value = os.environ.get(BODY_LIMIT_SETTING, "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_REQUEST_BYTES


@dataclass
class HostOptions:
    """How the host was started (see `python -m emulators.functions --help`)."""

    port: int
    state_path: Path
    keys_path: Path
    auth: bool = False
    rpc_port: int = 0
    blob_poll_seconds: float = 1.0
    shutdown_grace_seconds: float = 5.0


class Host:
    """One running host: HTTP listeners plus background dispatchers, stopped by `stop()`."""

    def __init__(self, app: FunctionApp, options: HostOptions) -> None:
        self.app = app
        self.options = options
        self.keys = HostKeys.load(options.keys_path, enforced=options.auth)
        self.base_url = f"http://127.0.0.1:{options.port}"
        self.store = DurableStore(options.state_path)
        self.metrics = ReplayMetrics()
        durable = app.host
        self.http_executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="http")
        self.orchestrator_executor = ThreadPoolExecutor(durable.max_orchestrators, thread_name_prefix="orchestrator")
        self.activity_executor = ThreadPoolExecutor(durable.max_activities, thread_name_prefix="activity")
        self.entity_executor = ThreadPoolExecutor(durable.max_entities, thread_name_prefix="entity")
        wakers = Wakers(instance=self._wake_instance, activities=self._wake_activities, timers=self._wake_timers,
                        entity=self._wake_entity)  # fmt: skip
        self.orchestrations = Orchestrations(app, self.store, wakers, self.metrics)
        self.entities = Entities(app, self.store, wakers)
        self.orchestration_dispatcher = KeyedDispatcher(
            "orchestrations", self.orchestrations.run_episode, self.orchestrator_executor, durable.max_orchestrators
        )
        self.entity_dispatcher = KeyedDispatcher(
            "entities", self.entities.run_batch, self.entity_executor, durable.max_entities
        )
        self.activity_runner = ActivityRunner(
            app, self.store, self.activity_executor, durable.max_activities, self._wake_instance, self._client_binding
        )
        self.timer_clock = TimerClock(self.store.fire_due_timers, self.store.next_timer_at, self._wake_instance)
        self.rpc_port = options.rpc_port or free_port()
        self.api = DurableApi(
            app,
            self.store,
            self.keys,
            self.base_url,
            f"http://127.0.0.1:{self.rpc_port}{RPC_PATH}/",
            self._wake_instance,
            self._wake_entity,
            self.orchestrations.rewind,
        )
        self.triggers = HttpTriggers(app, self.keys, self._client_binding, self.http_executor)
        self.blob_executor = ThreadPoolExecutor(4, thread_name_prefix="blob")
        self.blobs = BlobTriggers(
            app, self.store, self.keys, self._client_binding, self.blob_executor, options.blob_poll_seconds
        )
        self._runners: list[web.AppRunner] = []
        self._background: list[asyncio.Task] = []
        self._stopped = asyncio.Event()

    def _wake_instance(self, instance_id: str) -> None:
        self.orchestration_dispatcher.wake(instance_id)

    def _wake_entity(self, entity_id: str) -> None:
        self.entity_dispatcher.wake(entity_id)

    def _wake_activities(self) -> None:
        self.activity_runner.wake()

    def _wake_timers(self) -> None:
        self.timer_clock.wake()

    def _client_binding(self, binding: dict) -> str:
        return self.api.client_binding(binding)

    def public_app(self) -> web.Application:
        """The listener users call: admin endpoints and every HTTP trigger."""
        application = web.Application(client_max_size=request_body_limit())
        application.router.add_get("/admin/host/status", self._status)
        application.router.add_get("/admin/host/ping", self._ping)
        application.router.add_post("/admin/host/ping", self._ping)
        application.router.add_get("/admin/host/durable-metrics", self._metrics)
        application.router.add_get("/admin/host/blob-triggers", self._blob_triggers)
        self.api.add_routes(application, WEBHOOK_PATH, check_keys=True)
        application.router.add_post(BLOB_WEBHOOK_PATH, self.blobs.webhook)
        # [\s\S] and not ".": a decoded path may hold a newline (%0A), and it must still reach the function.
        application.router.add_route("*", r"/{tail:[\s\S]*}", self.triggers.handle)
        return application

    def rpc_app(self) -> web.Application:
        """The internal listener the SDK's client calls (rpcBaseUrl), like the extension's local RPC endpoint."""
        application = web.Application(client_max_size=request_body_limit())
        self.api.add_routes(application, RPC_PATH, check_keys=False)
        return application

    async def _metrics(self, request: web.Request) -> web.Response:
        presented = request.query.get("code") or request.headers.get("x-functions-key")
        if not self.keys.allows("ADMIN", None, presented):
            return web.Response(status=401)
        return web.json_response(self.metrics.snapshot())

    async def _blob_triggers(self, request: web.Request) -> web.Response:
        presented = request.query.get("code") or request.headers.get("x-functions-key")
        if not self.keys.allows("ADMIN", None, presented):
            return web.Response(status=401)
        return web.json_response(self.blobs.progress())

    async def _status(self, request: web.Request) -> web.Response:
        presented = request.query.get("code") or request.headers.get("x-functions-key")
        if not self.keys.allows("ADMIN", None, presented):
            return web.Response(status=401)
        return web.json_response({"state": "Running", "functions": [f.name for f in self.app.functions]})

    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def start(self) -> None:
        """Open the listeners (the public port last, so a caller that can connect finds everything ready)."""
        rpc_runner = web.AppRunner(
            self.rpc_app(), access_log=None, handle_signals=False, shutdown_timeout=HTTP_SHUTDOWN_SECONDS
        )
        await rpc_runner.setup()
        await web.TCPSite(rpc_runner, "127.0.0.1", self.rpc_port).start()
        self._runners.append(rpc_runner)
        for loop_body in (
            self.orchestration_dispatcher.run(),
            self.entity_dispatcher.run(),
            self.activity_runner.run(),
            self.timer_clock.run(),
            self.blobs.run(),
        ):
            self._background.append(asyncio.create_task(loop_body))
        await asyncio.sleep(0)
        self._recover()
        runner = web.AppRunner(
            self.public_app(), access_log=None, handle_signals=False, shutdown_timeout=HTTP_SHUTDOWN_SECONDS
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.options.port).start()
        self._runners.insert(0, runner)
        self._print_banner()

    def _recover(self) -> None:
        """After a restart, everything still in SQLite is work: undelivered messages, activities, timers, ops."""
        waiting = self.store.instances_with_messages()
        for instance_id in waiting:
            self._wake_instance(instance_id)
        for entity_id in self.store.entities_with_ops():
            self._wake_entity(entity_id)
        self._wake_activities()
        self._wake_timers()
        if waiting:
            log.info("Resuming %d orchestration instance(s) from %s", len(waiting), self.options.state_path)

    def _print_banner(self) -> None:
        lines = ["", "Functions:", ""]
        for name, methods, url in self.triggers.urls(self.base_url):
            lines.append(f"        {name}: [{methods}] {url}")
            lines.append("")
        for spec in self.app.functions:
            if spec.trigger_type != "httpTrigger":
                lines.append(f"        {spec.name}: {spec.trigger_type}")
                lines.append("")
        log.info("\n".join(lines))
        if self.keys.enforced:
            # Logs outlive terminals: name where the key is and show its start, never the key itself.
            log.info(
                "Function key (default): %s... from FUNCTIONS_DEFAULT_KEY or %s (send it as ?code= or the "
                "x-functions-key header)",
                self.keys.default[:4], self.options.keys_path,
            )  # fmt: skip
        else:
            log.info("Keys are not checked (start with --enable-auth to check them): every HTTP function is anonymous")
        log.info("Host started on %s", self.base_url)

    async def stop(self) -> None:
        """Stop accepting requests, let running work finish briefly, close everything."""
        for runner in self._runners:
            with contextlib.suppress(Exception):
                await runner.cleanup()
        grace = self.options.shutdown_grace_seconds
        await asyncio.gather(
            self.orchestration_dispatcher.drain(grace),
            self.entity_dispatcher.drain(grace),
            self.activity_runner.drain(grace),
        )
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        executors = (self.http_executor, self.orchestrator_executor, self.activity_executor, self.entity_executor)
        for executor in (*executors, self.blob_executor):
            executor.shutdown(wait=False, cancel_futures=True)
        self.store.close()
        log.info("Host stopped")

    async def serve_forever(self) -> None:
        """Run until SIGINT/SIGTERM, then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopped.set)
        await self.start()
        await self._stopped.wait()
        log.info("Shutdown requested")
        await self.stop()
