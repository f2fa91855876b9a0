"""HTTP-trigger behaviours: routes, constraints, methods, conversion, sync/async, failures, auth levels."""

import asyncio
import json
import os
import threading

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def echo(req: func.HttpRequest, **extra) -> func.HttpResponse:
    body = {
        "method": req.method,
        "url": req.url,
        "route": dict(req.route_params),
        "query": dict(req.params),
        "headers": {k: req.headers[k] for k in req.headers},
        "body": req.get_body().decode("utf-8", "replace"),
        **extra,
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json", headers={"X-Echo": "yes"})


@app.route(route="items/{id:int}", methods=["GET"])
def item_by_number(req: func.HttpRequest) -> func.HttpResponse:
    return echo(req, handler="item_by_number")


@app.route(route="items/latest", methods=["GET"])
def latest_item(req: func.HttpRequest) -> func.HttpResponse:
    return echo(req, handler="latest_item")


@app.route(route="items/{name:alpha}", methods=["GET", "PUT"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return echo(req, handler="item_by_name")


@app.route(route="pages/{page:int?}", methods=["GET"])
def pages(req: func.HttpRequest) -> func.HttpResponse:
    return echo(req, handler="pages")


@app.route(route="files/{*path}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return echo(req, handler="files")


@app.route(route="things/{id:guid}/parts/{part:range(1,9)}")
def thing_part(req: func.HttpRequest) -> func.HttpResponse:
    return echo(req, handler="thing_part")


@app.route(methods=["POST"])
def default_route(req: func.HttpRequest) -> func.HttpResponse:
    return echo(req, handler="default_route")


@app.route(route="async-echo", methods=["POST"])
async def async_echo(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return echo(req, handler="async_echo", loop_thread=threading.current_thread().name)


@app.route(route="sync-echo", methods=["POST"])
def sync_echo(req: func.HttpRequest) -> func.HttpResponse:
    return echo(req, handler="sync_echo", loop_thread=threading.current_thread().name)


@app.route(route="plain")
def plain(req: func.HttpRequest) -> str:
    return "just a string"


@app.route(route="status/{code:int}")
def with_status(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=int(req.route_params["code"]), headers={"Set-Cookie": "a=1"})


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("the function failed on purpose")


@app.route(route="async-boom")
async def async_boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("the async function failed on purpose")


@app.route(route="settings")
def settings(req: func.HttpRequest) -> func.HttpResponse:
    names = ("GREETING", "ALREADY_SET")
    return func.HttpResponse(json.dumps({n: os.environ.get(n) for n in names}), mimetype="application/json")


@app.route(route="secure/function", auth_level=func.AuthLevel.FUNCTION)
def secure_function(req: func.HttpRequest) -> str:
    return "function level ok"


@app.route(route="secure/admin", auth_level=func.AuthLevel.ADMIN)
def secure_admin(req: func.HttpRequest) -> str:
    return "admin level ok"


@app.route(route="client-urls")
@app.durable_client_input(client_name="client")
async def client_urls(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    payload = client.create_http_management_payload("some-id")
    return func.HttpResponse(json.dumps(payload), mimetype="application/json")


@app.blob_trigger(arg_name="blob", path="%NOT_SET_ANYWHERE%/{name}", connection="AzureWebJobsStorage")
def broken_binding(blob: func.InputStream) -> None:
    """Its path names a setting nobody set: the host must leave it out and run the rest."""
