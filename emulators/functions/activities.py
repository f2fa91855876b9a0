"""Activity execution: through the SDK's ActivityTriggerConverter, in a pool sized by host.json, at-least-once.

An activity may take a durable client binding too (`durable_client_input`), as on Azure, e.g. to raise an event on
another orchestration."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Executor

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from emulators.functions import invocation
from emulators.functions.application import FunctionApp
from emulators.functions.orchestrations import HTTP_ACTIVITY, TASK_COMPLETED, TASK_FAILED, timestamp
from emulators.functions.store import ActivityWork, DurableStore

log = logging.getLogger("host")


class ActivityRunner:
    """Pulls activity rows from the store and runs up to `limit` at once (sync ones in `executor`)."""

    def __init__(
        self,
        app: FunctionApp,
        store: DurableStore,
        executor: Executor,
        limit: int,
        on_result: Callable[[str], None],
        client_binding: Callable[[dict], str] | None = None,
    ) -> None:
        self.app = app
        self.client_binding = client_binding
        self.store = store
        self.executor = executor
        self.limit = limit
        self.on_result = on_result
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task] = set()
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    def wake(self) -> None:
        """New activity rows exist; safe from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event.set()
        while not self._closing:
            await self._event.wait()
            self._event.clear()
            if self._closing:
                break
            for work in self.store.activities_to_run(self._in_flight, self.limit - len(self._in_flight)):
                self._in_flight.add(work.id)
                task = asyncio.create_task(self._run_one(work))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _run_one(self, work: ActivityWork) -> None:
        try:
            event = await self._execute(work)
            if self.store.complete_activity(work, event, now=time.time()):
                self.on_result(work.instance_id)
        except Exception:
            log.exception(
                "Activity %s (task %s of %s) could not be recorded", work.name, work.task_id, work.instance_id
            )
        finally:
            self._in_flight.discard(work.id)
            self._event.set()

    async def _execute(self, work: ActivityWork) -> dict:
        base = {"EventId": -1, "TaskScheduledId": work.task_id}
        try:
            if work.name == HTTP_ACTIVITY:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self.executor, call_http, work.input)
            else:
                result = await self._invoke(work)
        except Exception as exc:
            return {
                **base,
                "EventType": TASK_FAILED,
                "Timestamp": timestamp(time.time()),
                "Reason": f"Activity function '{work.name}' failed: {exc}",
                "Details": f"{type(exc).__name__}: {exc}",
            }
        return {**base, "EventType": TASK_COMPLETED, "Timestamp": timestamp(time.time()), "Result": result}

    async def _invoke(self, work: ActivityWork) -> str:
        spec = self.app.find("activityTrigger", work.name)
        if spec is None:
            known = ", ".join(self.app.names_of_type("activityTrigger")) or "none"
            raise LookupError(
                f"The function '{work.name}' doesn't exist, is disabled, or is not an activity function. "
                f"Known activity functions: {known}."
            )
        value = ActivityTriggerConverter.decode(meta.Datum(type="json", value=work.input), trigger_metadata=None)
        kwargs: dict = {spec.trigger["name"]: value}
        for binding in spec.bindings:
            if binding.get("type") == "durableClient":
                if self.client_binding is None:
                    raise LookupError(f"activity '{work.name}' takes a durable client, but this runner has none")
                kwargs[binding["name"]] = self.client_binding(binding)
        result = await invocation.invoke(
            spec,
            kwargs,
            reason="(null)",
            directory=str(self.app.directory),
            executor=self.executor,
        )
        return ActivityTriggerConverter.encode(result, expected_type=None).value

    async def drain(self, timeout: float) -> None:
        """Start nothing new; give running activities up to `timeout` to finish (the rest run again later)."""
        self._closing = True
        self._event.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


def call_http(request_json: str | None) -> str:
    """The built-in activity behind `context.call_http`: one request, the response as DurableHttpResponse JSON."""
    request = json.loads(request_json or "{}")
    if request.get("tokenSource"):
        raise NotImplementedError("call_http with a managed-identity token source is not supported by the local host")
    content = request.get("content")
    data = content.encode() if isinstance(content, str) else None
    outgoing = urllib.request.Request(request["uri"], data=data, method=str(request.get("method", "GET")).upper())
    for name, value in (request.get("headers") or {}).items():
        outgoing.add_header(name, value if isinstance(value, str) else ",".join(value))
    try:
        with urllib.request.urlopen(outgoing, timeout=100) as response:
            status, headers, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, dict(error.headers), error.read()
    return json.dumps({"statusCode": status, "headers": headers, "content": body.decode("utf-8", "replace")})
