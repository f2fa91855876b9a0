"""HTTP-trigger functions behind aiohttp: routing, keys, and func.HttpRequest/HttpResponse conversion."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from urllib.parse import unquote

import azure.functions as func
from aiohttp import web

from emulators.functions import invocation
from emulators.functions.application import FunctionApp, FunctionSpec
from emulators.functions.keys import HostKeys, presented_key
from emulators.functions.routes import RouteTemplate

log = logging.getLogger("host")


class HttpTriggers:
    """Every HTTP-trigger function of the app, matched by route template and method."""

    def __init__(
        self,
        app: FunctionApp,
        keys: HostKeys,
        client_binding: Callable[[dict], str],
        executor: Executor,
    ) -> None:
        self.app = app
        self.keys = keys
        self.client_binding = client_binding
        self.executor = executor
        self.prefix = app.host.route_prefix
        self.routes: list[tuple[RouteTemplate, FunctionSpec, set[str] | None]] = []
        for spec in app.of_type("httpTrigger"):
            template = RouteTemplate.parse(spec.trigger.get("route") or spec.name)
            methods = spec.trigger.get("methods")
            allowed = {m.upper() for m in methods} if methods else None
            self.routes.append((template, spec, allowed))
        self.routes.sort(key=lambda route: route[0].sort_key())

    def urls(self, base_url: str) -> list[tuple[str, str, str]]:
        """(function name, methods, URL) for each function, like the list `func start` prints."""
        listed = []
        for template, spec, methods in self.routes:
            path = "/".join(part for part in (self.prefix, template.template) if part)
            shown = ",".join(sorted(methods)) if methods else "GET,POST,DELETE,HEAD,PATCH,PUT,OPTIONS"
            listed.append((spec.name, shown, f"{base_url}/{path}"))
        return sorted(listed)

    def resolve(self, method: str, raw_path: str) -> tuple[FunctionSpec, dict[str, str]] | None:
        """The function and route parameters for this request, or None (a 404, like the real host)."""
        path = unquote(raw_path.split("?", 1)[0]).strip("/")
        if self.prefix:
            head, _, rest = path.partition("/")
            if head.lower() != self.prefix.lower():
                return None
            path = rest
        for template, spec, methods in self.routes:
            if methods is not None and method.upper() not in methods:
                continue
            params = template.match(path)
            if params is not None:
                return spec, params
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request to an HTTP-trigger function (404 when no route matches)."""
        found = self.resolve(request.method, request.raw_path)
        if found is None:
            return web.Response(status=404)
        spec, route_params = found
        presented = presented_key(request.headers, request.query)
        if not self.keys.allows(spec.trigger.get("authLevel", "FUNCTION"), spec.name, presented):
            return web.Response(status=401)
        body = await request.read()
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=_joined(request.headers, ", "),
            params=_joined(request.query),
            route_params=route_params,
            body=body,
        )
        kwargs: dict = {spec.trigger["name"]: http_request}
        for binding in spec.bindings:
            if binding.get("type") == "durableClient":
                kwargs[binding["name"]] = self.client_binding(binding)
        try:
            result = await invocation.invoke(
                spec,
                kwargs,
                reason=invocation.HTTP_REASON,
                directory=str(self.app.directory),
                executor=self.executor,
            )
            return to_aiohttp_response(result)
        except Exception:
            # Logged by invoke(); Azure answers an unhandled exception with a bare 500.
            return web.Response(status=500)


def to_aiohttp_response(result: object) -> web.Response:
    """A function's return value as the HTTP response the real host would send."""
    if isinstance(result, func.HttpResponse):
        response = web.Response(status=result.status_code, body=result.get_body())
        has_content_type = False
        for name, value in result.headers.items():
            response.headers.add(name, value)
            has_content_type |= name.lower() == "content-type"
        if not has_content_type:
            response.headers["Content-Type"] = f"{result.mimetype}; charset={result.charset}"
        return response
    if result is None:
        return web.Response(status=204)
    if isinstance(result, str):
        return web.Response(text=result, content_type="text/plain")
    if isinstance(result, bytes | bytearray):
        return web.Response(body=bytes(result), content_type="application/octet-stream")
    try:
        return web.Response(text=json.dumps(result), content_type="application/json")
    except TypeError:
        log.error("An HTTP function returned %s, which is neither an HttpResponse nor JSON", type(result).__name__)
        return web.Response(status=500)


def _joined(pairs, separator: str = ",") -> dict[str, str]:
    # ASP.NET hands the worker one string per name: repeated values joined with commas.
    joined: dict[str, str] = {}
    for name, value in pairs.items():
        key = name.lower() if separator != "," else name
        joined[key] = f"{joined[key]}{separator}{value}" if key in joined else value
    return joined
