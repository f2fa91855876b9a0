"""The Durable HTTP API (`/runtime/webhooks/durabletask/...`) and the client binding that points at it.

Status codes and bodies follow the extension's HttpApiHandler.cs: start 202 (+ check-status payload, 409 if the
id is active, 400 for an unknown orchestrator or bad JSON), status 202 while running and 200 when finished,
raise event 404/410/400/202, terminate/suspend/resume 404/410/202, purge 404/412/200, rewind 404/412/202.
The SDK's client posts every body as JSON text inside a JSON string; `payload_text` undoes exactly one layer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import quote

from aiohttp import web

from emulators.functions.application import FunctionApp
from emulators.functions.entities import entity_id_of
from emulators.functions.keys import DURABLE_SYSTEM_KEY, HostKeys
from emulators.functions.orchestrations import (
    EVENT_NAMES,
    EVENT_RAISED,
    EXECUTION_RESUMED,
    EXECUTION_SUSPENDED,
    EXECUTION_TERMINATED,
    new_instance,
    timestamp,
)
from emulators.functions.store import ACTIVE, TERMINAL, Conflict, DurableStore, Instance

log = logging.getLogger("host")

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"
STATUSES = ("Running", "Pending", "Failed", "Canceled", "Terminated", "Completed", "ContinuedAsNew", "Suspended")
_BAD_ID = re.compile(r"[/\\#?\x00-\x1f\x7f]")
MAX_INSTANCE_ID = 256
# The extension's OrchestrationStatusQueryCondition defaults (PageSize = 100, ShowInput = true): a list without
# `top` is one page of 100, and the rest is behind the `x-ms-continuation-token` response header.
LIST_PAGE_SIZE = 100


def payload_text(raw: bytes) -> str | None:
    """A request body as the JSON text an orchestrator or entity receives (None for an empty body).

    The SDK's client sends JSON text wrapped in a JSON string; curl users send plain JSON. A decoded string
    that is itself JSON is taken as the JSON text; any other value is re-encoded. ValueError if not JSON.
    """
    if not raw.strip():
        return None
    value = json.loads(raw.decode("utf-8"))
    if isinstance(value, str):
        try:
            json.loads(value)
            return value
        except ValueError:
            pass
    return json.dumps(value)


def error_response(status: int, message: str, exception_message: str | None = None) -> web.Response:
    """The HttpError body the extension sends (the SDK reads ExceptionMessage on a failed start)."""
    body = {"Message": message}
    if exception_message is not None:
        body.update(ExceptionMessage=exception_message, ExceptionType="System.ArgumentException", StackTrace=None)
    return web.json_response(body, status=status)


def parse_time(text: str | None) -> float | None:
    """A query-string time (ISO, Python's strftime, with or without Z) as epoch seconds; None if absent/bad."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    if value is None or value.lower() not in ("true", "false"):
        return default
    return value.lower() == "true"


def _statuses(request: web.Request) -> list[str]:
    wanted = {s.strip().lower() for part in request.query.getall("runtimeStatus", []) for s in part.split(",")}
    return [s for s in STATUSES if s.lower() in wanted]


class DurableApi:
    """Handlers for the Durable HTTP API, shared by the public webhook path and the internal RPC listener."""

    def __init__(
        self,
        app: FunctionApp,
        store: DurableStore,
        keys: HostKeys,
        base_url: str,
        rpc_base_url: str,
        wake_instance: Callable[[str], None],
        wake_entity: Callable[[str], None],
        rewind_handler: Callable[[str, str | None], None],
    ) -> None:
        self.app = app
        self.store = store
        self.keys = keys
        self.base_url = base_url
        self.rpc_base_url = rpc_base_url
        self.wake_instance = wake_instance
        self.wake_entity = wake_entity
        self.rewind_handler = rewind_handler

    # -- bindings ----------------------------------------------------------------------------------------

    def _query(self, task_hub: str | None = None, connection: str | None = None) -> str:
        hub = quote(task_hub or self.app.host.hub_name, safe="")
        # The real host's webhook URLs always carry the system key, whether or not keys are checked (Core Tools).
        system_key = quote(self.keys.system_keys[DURABLE_SYSTEM_KEY], safe="")
        return f"taskHub={hub}&connection={quote(connection or 'Storage', safe='')}&code={system_key}"

    def management_urls(self, instance_id: str, task_hub: str | None = None, connection: str | None = None) -> dict:
        """The check-status payload for one instance (the URLs `create_check_status_response` returns)."""
        prefix = f"{self.base_url}{WEBHOOK_PATH}/instances/{quote(instance_id, safe='')}"
        query = self._query(task_hub, connection)
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{prefix}?{query}",
            "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{query}",
            "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{prefix}?{query}",
            "restartPostUri": f"{prefix}/restart?{query}",
            "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{prefix}/resume?reason={{text}}&{query}",
        }

    def client_binding(self, binding: dict) -> str:
        """The durableClient binding JSON the SDK's DurableOrchestrationClient is built from."""
        task_hub = binding.get("taskHub") or self.app.host.hub_name
        connection = binding.get("connectionName") or binding.get("connection") or "Storage"
        query = self._query(task_hub, connection)
        base = f"{self.base_url}{WEBHOOK_PATH}"
        creation = f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]"
        management = self.management_urls("INSTANCEID", task_hub, connection)
        required = f"code={quote(self.keys.system_keys[DURABLE_SYSTEM_KEY], safe='')}"
        return json.dumps(
            {
                "taskHubName": task_hub,
                "creationUrls": {
                    "createNewInstancePostUri": f"{creation}?{query}",
                    "createAndWaitOnNewInstancePostUri": (
                        f"{creation}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{query}"
                    ),
                },
                "managementUrls": management,
                "baseUrl": base,
                "requiredQueryStringParameters": required,
                "rpcBaseUrl": self.rpc_base_url,
                "httpBaseUrl": "",
            }
        )

    # -- routing -----------------------------------------------------------------------------------------

    def add_routes(self, application: web.Application, prefix: str, *, check_keys: bool) -> None:
        """Register every API route under `prefix` (the webhook path needs the system key; RPC does not)."""
        routes = [
            ("POST", "/orchestrators/{function_name}", self.start),
            ("POST", "/orchestrators/{function_name}/{instance_id}", self.start),
            ("GET", "/instances", self.list_instances),
            ("GET", "/instances/", self.list_instances),
            ("DELETE", "/instances", self.purge_by_filter),
            ("DELETE", "/instances/", self.purge_by_filter),
            ("GET", "/instances/{instance_id}", self.status),
            ("DELETE", "/instances/{instance_id}", self.purge),
            ("POST", "/instances/{instance_id}/raiseEvent/{event_name}", self.raise_event),
            ("POST", "/instances/{instance_id}/{operation}", self.operate),
            ("GET", "/entities/{entity_name}", self.list_entities),
            ("GET", "/entities/{entity_name}/{entity_key}", self.read_entity),
            ("POST", "/entities/{entity_name}/{entity_key}", self.signal_entity),
            ("DELETE", "/entities/{entity_name}/{entity_key}", self.signal_entity),
        ]
        for method, path, handler in routes:
            application.router.add_route(method, prefix + path, self._guard(handler) if check_keys else handler)

    def _guard(self, handler):
        async def guarded(request: web.Request) -> web.StreamResponse:
            presented = request.query.get("code") or request.headers.get("x-functions-key")
            if not self.keys.allows_system(DURABLE_SYSTEM_KEY, presented):
                return web.Response(status=401)
            return await handler(request)

        return guarded

    # -- orchestrations ----------------------------------------------------------------------------------

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["function_name"]
        instance_id = request.match_info.get("instance_id") or uuid.uuid4().hex
        problem = self._check_instance_id(instance_id)
        if problem:
            return error_response(400, problem, problem)
        spec = self.app.find("orchestrationTrigger", name)
        if spec is None:
            known = ", ".join(f"'{n}'" for n in self.app.names_of_type("orchestrationTrigger")) or "none"
            message = (
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
                f"Additional info: the following are the known orchestrator functions: {known}."
            )
            return error_response(400, "One or more of the arguments submitted is incorrect", message)
        raw = await request.read()
        try:
            input_text = payload_text(raw)
            shown = raw.decode("utf-8") if raw.strip() else None
        except (ValueError, UnicodeDecodeError) as exc:
            return error_response(400, "Invalid JSON content", str(exc))
        try:
            self.start_instance(
                spec.name, instance_id, input_text, input_shown=shown, version=request.query.get("version")
            )
        except Conflict as exc:
            return error_response(409, str(exc))
        return await self._respond_after_start(request, instance_id)

    def start_instance(
        self, name: str, instance_id: str, input_text: str | None, *, input_shown=None, version=None
    ) -> None:
        """Create an instance and wake the dispatcher; Conflict if the id is active."""
        instance, started = new_instance(
            instance_id, name, input_text, input_shown=input_shown, version=version, at=time.time()
        )
        self.store.create_instance(instance, started, now=time.time())
        log.info("%s: Function '%s (Orchestrator)' scheduled.", instance_id, name)
        self.wake_instance(instance_id)

    def _check_instance_id(self, instance_id: str) -> str | None:
        if len(instance_id) > MAX_INSTANCE_ID:
            return f"Instance ID lengths must not exceed {MAX_INSTANCE_ID} characters."
        if _BAD_ID.search(instance_id):
            return "Instance ID must not contain /, \\, #, ? or control characters."
        if not instance_id.strip():
            return "Instance ID must not be empty."
        return None

    async def _respond_after_start(self, request: web.Request, instance_id: str) -> web.Response:
        timeout = _seconds(request.query.get("timeout"))
        interval = _seconds(request.query.get("pollingInterval"))
        if timeout is not None and interval is not None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                instance = self.store.get_instance(instance_id)
                if instance and instance.status in TERMINAL:
                    if instance.status == "Completed":
                        return web.json_response(json.loads(instance.output or "null"))
                    return web.json_response(self.status_payload(instance), status=200)
                await asyncio.sleep(max(0.01, min(interval, deadline - time.monotonic())))
        payload = self.management_urls(instance_id, request.query.get("taskHub"), request.query.get("connection"))
        payload = {k: v for k, v in payload.items() if k != "rewindPostUri"}
        response = web.json_response(payload, status=202)
        response.headers["Location"] = payload["statusQueryGetUri"]
        response.headers["Retry-After"] = "10"
        return response

    def status_payload(self, instance: Instance, *, show_input=True, show_history=False, show_output=False) -> dict:
        """The status JSON the extension returns (and the SDK's DurableOrchestrationStatus reads)."""
        payload = {
            "name": instance.name,
            "instanceId": instance.instance_id,
            "runtimeStatus": instance.status,
            "input": json.loads(instance.input_shown) if show_input and instance.input_shown else None,
            "customStatus": json.loads(instance.custom_status) if instance.custom_status else None,
            "output": json.loads(instance.output) if instance.output else None,
            "createdTime": instance.created_time[:19] + "Z",
            "lastUpdatedTime": instance.last_updated_time[:19] + "Z",
        }
        if show_history:
            payload["historyEvents"] = readable_history(self.store.history(instance.instance_id), show_output)
        return payload

    async def status(self, request: web.Request) -> web.Response:
        instance = self.store.get_instance(request.match_info["instance_id"])
        if instance is None:
            return web.Response(status=404)
        payload = self.status_payload(
            instance,
            show_input=_flag(request, "showInput", True),
            show_history=_flag(request, "showHistory", False),
            show_output=_flag(request, "showHistoryOutput", False),
        )
        if instance.status in ACTIVE:
            response = web.json_response(payload, status=202)
            response.headers["Location"] = str(request.url)
            response.headers["Retry-After"] = "5"
            return response
        failed_500 = instance.status == "Failed" and _flag(request, "returnInternalServerErrorOnFailure", False)
        return web.json_response(payload, status=500 if failed_500 else 200)

    async def list_instances(self, request: web.Request) -> web.Response:
        top = request.query.get("top")
        try:
            page, token = self.store.list_instances(
                created_from=parse_time(request.query.get("createdTimeFrom")),
                created_to=parse_time(request.query.get("createdTimeTo")),
                statuses=_statuses(request) or None,
                prefix=request.query.get("instanceIdPrefix"),
                top=int(top) if top and top.isdigit() and int(top) > 0 else LIST_PAGE_SIZE,
                continuation=request.headers.get("x-ms-continuation-token") or None,
            )
        except ValueError as exc:
            return error_response(400, str(exc))
        show_input = _flag(request, "showInput", True)
        response = web.json_response([self.status_payload(i, show_input=show_input) for i in page])
        if token:
            response.headers["x-ms-continuation-token"] = token
        return response

    async def purge(self, request: web.Request) -> web.Response:
        instance = self.store.get_instance(request.match_info["instance_id"])
        if instance is None:
            return web.Response(status=404)
        if instance.status not in TERMINAL:
            message = (
                "Only orchestrations in a terminal state can be purged, but the orchestration with instance ID "
                f"{instance.instance_id} has status {instance.status}"
            )
            return web.json_response(message, status=412)
        return web.json_response({"instancesDeleted": self.store.purge([instance.instance_id])})

    async def purge_by_filter(self, request: web.Request) -> web.Response:
        created_from = parse_time(request.query.get("createdTimeFrom"))
        if created_from is None:
            return web.json_response("Please provide value for 'createdTimeFrom' parameter.", status=400)
        created_to = parse_time(request.query.get("createdTimeTo")) or time.time()
        statuses = [s for s in (_statuses(request) or TERMINAL) if s in TERMINAL]
        page, _ = self.store.list_instances(created_from=created_from, created_to=created_to, statuses=statuses)
        deleted = self.store.purge([i.instance_id for i in page])
        if not deleted:
            return web.Response(status=404)
        return web.json_response({"instancesDeleted": deleted})

    async def raise_event(self, request: web.Request) -> web.Response:
        instance = self.store.get_instance(request.match_info["instance_id"])
        if instance is None:
            return web.Response(status=404)
        if instance.status in TERMINAL:
            return web.Response(status=410)
        if request.content_type.lower() != "application/json":
            return error_response(400, "Only application/json request content is supported")
        try:
            data = payload_text(await request.read())
        except (ValueError, UnicodeDecodeError) as exc:
            return error_response(400, "Invalid JSON content", str(exc))
        event = {
            "EventType": EVENT_RAISED,
            "EventId": -1,
            "Timestamp": timestamp(time.time()),
            "Name": request.match_info["event_name"],
            "Input": data if data is not None else "null",
        }
        self.store.enqueue(instance.instance_id, None, event, now=time.time())
        self.wake_instance(instance.instance_id)
        return web.Response(status=202)

    async def operate(self, request: web.Request) -> web.Response:
        operation = request.match_info["operation"].lower()
        handlers = {
            "terminate": EXECUTION_TERMINATED,
            "suspend": EXECUTION_SUSPENDED,
            "resume": EXECUTION_RESUMED,
        }
        if operation == "restart":
            return await self.restart(request)
        if operation == "rewind":
            return await self.rewind(request)
        if operation not in handlers:
            return web.Response(status=404)
        instance = self.store.get_instance(request.match_info["instance_id"])
        if instance is None:
            return web.Response(status=404)
        if instance.status in TERMINAL:
            return web.Response(status=410)
        event = {
            "EventType": handlers[operation],
            "EventId": -1,
            "Timestamp": timestamp(time.time()),
            "Input": request.query.get("reason"),
            "Reason": request.query.get("reason"),
        }
        self.store.enqueue(instance.instance_id, None, event, now=time.time())
        self.wake_instance(instance.instance_id)
        return web.Response(status=202)

    async def restart(self, request: web.Request) -> web.Response:
        instance = self.store.get_instance(request.match_info["instance_id"])
        if instance is None:
            message = "InstanceId does not match a valid orchestration instance."
            return error_response(
                400, message, f"An orchestration with the instanceId {request.match_info['instance_id']} was not found."
            )
        new_id = uuid.uuid4().hex if _flag(request, "restartWithNewInstanceId", True) else instance.instance_id
        try:
            self.start_instance(
                instance.name, new_id, instance.input, input_shown=instance.input_shown, version=instance.version
            )
        except Conflict:
            return error_response(409, "A non-terminal instance with this instance ID already exists.")
        return await self._respond_after_start(request, new_id)

    async def rewind(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        instance = self.store.get_instance(instance_id)
        if instance is None:
            return web.json_response(f'No orchestration with instance ID "{instance_id}" found.', status=404)
        if instance.status != "Failed":
            message = (
                f"This orchestration has status {instance.status}, but only orchestrations in the "
                '"Failed" state can be rewound.'
            )
            return web.json_response(message, status=412)
        try:
            self.rewind_instance(instance, request.query.get("reason"))
        except NotImplementedError as exc:
            return error_response(501, "Rewind is not supported for this instance.", str(exc))
        except (LookupError, ValueError) as exc:
            return web.json_response(str(exc), status=412)
        return web.Response(status=202)

    def rewind_instance(self, instance: Instance, reason: str | None) -> None:
        self.rewind_handler(instance.instance_id, reason)

    # -- entities ----------------------------------------------------------------------------------------

    async def read_entity(self, request: web.Request) -> web.Response:
        name, key = request.match_info["entity_name"], request.match_info["entity_key"]
        key = "" if key == "$" else key
        state = self.store.read_entity(entity_id_of(name, key))
        if state is None:
            return web.Response(status=404)
        return web.Response(text=state, content_type="application/json")

    async def list_entities(self, request: web.Request) -> web.Response:
        name = request.match_info["entity_name"]
        fetch_state = _flag(request, "fetchState", False)
        listed = []
        for row in self.store.list_entities(name):
            item = {
                "entityId": {"name": name.lower(), "key": row["entity_id"].split("@", 2)[2]},
                "lastOperationTime": row["last_operation_time"][:19] + "Z",
            }
            if fetch_state:
                item["state"] = json.loads(row["state"]) if row["state"] else None
            listed.append(item)
        return web.json_response(listed)

    async def signal_entity(self, request: web.Request) -> web.Response:
        name, key = request.match_info["entity_name"], request.match_info["entity_key"]
        if "@" in name or not name.strip():
            return error_response(400, "Entity names must not be empty or contain '@'.")
        operation = "delete" if request.method == "DELETE" else request.query.get("op", "")
        raw = await request.read()
        if raw.strip() and request.content_type.lower() == "application/json":
            try:
                input_text = payload_text(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                return error_response(400, f"Could not parse JSON content: {exc}")
        elif raw:
            input_text = json.dumps(raw.decode("utf-8", "replace"))
        else:
            input_text = None
        entity_id = entity_id_of(name, key)
        self.store.signal_entity(entity_id, operation, input_text, now=time.time())
        self.wake_entity(entity_id)
        return web.Response(status=202)


def _seconds(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is None or value >= 0 else None


def readable_history(history: list[dict], show_output: bool) -> list[dict]:
    """History as the extension's status API shows it: completions merged with their scheduling."""
    scheduled: dict[int, dict] = {}
    shown: list[dict] = []
    for event in history:
        kind = event.get("EventType")
        name = EVENT_NAMES.get(kind, str(kind))
        if kind in (4, 7, 10):
            scheduled[event.get("EventId")] = event
            continue
        if kind in (12, 13):
            continue
        item: dict = {"EventType": name, "Timestamp": event.get("Timestamp")}
        if kind == 0:
            item["FunctionName"] = event.get("Name")
            if show_output:
                item["Input"] = event.get("Input")
        elif kind in (5, 6, 8, 9):
            origin = scheduled.get(event.get("TaskScheduledId"), {})
            item["FunctionName"] = origin.get("Name")
            item["ScheduledTime"] = origin.get("Timestamp")
            if kind in (6, 9):
                item["Reason"] = event.get("Reason")
                item["Details"] = event.get("Details")
            elif show_output:
                item["Result"] = event.get("Result")
        elif kind == 11:
            item["FireAt"] = event.get("FireAt")
            item["TimerId"] = event.get("TimerId")
        elif kind in (14, 15):
            item["Name"] = event.get("Name")
            if show_output:
                item["Input"] = event.get("Input")
        elif kind == 1:
            item["OrchestrationStatus"] = event.get("OrchestrationStatus")
            if show_output:
                item["Result"] = event.get("Result")
        elif kind == 3:
            item["Input"] = event.get("Input")
        shown.append(item)
    return shown
