"""The OpenAPI 3.1 document of the HTTP API, built from the pydantic models of `schema` and the capability table.

`POST /videos` takes one request schema per model (a `oneOf`): each names the model's sizes, durations, variants,
remix, reference image and provider options as `GET /api/models` lists them, so a schema-valid body is one the
validator accepts, and the document changes whenever the configured models do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel

from soraflow.contract import schema
from soraflow.model_table import ANY_DIMENSION, ANY_SECONDS
from soraflow.providers.capabilities import ModelCapabilities, ProviderPlugin
from soraflow.runs import RunStatus

REF = "#/components/schemas/{model}"
NULL = {"type": "null"}
MAX_WHOLE_SECONDS = 9_999  # the validator reads at most four digits


def component(model: type[BaseModel], components: dict) -> dict:
    """`model`'s JSON Schema, its nested models moved into `components` (referenced from there)."""
    found = model.model_json_schema(ref_template=REF)
    components.update(found.pop("$defs", {}))
    return found


def size_schema(caps: ModelCapabilities, sizes: Sequence[str] | None = None) -> dict:
    chosen = sizes if sizes is not None else caps.sizes
    if chosen is None:
        low, high = ANY_DIMENSION
        return {"type": "string", "pattern": "^[1-9][0-9]{1,3}[xX][1-9][0-9]{1,3}$",
                "description": f"any WxH with sides {low}-{high}"}  # fmt: skip
    # "1280X720" is read as "1280x720": both spellings are valid.
    spellings = [*chosen, *(size.replace("x", "X") for size in chosen)]
    return {"type": "string", "enum": spellings, "description": f"{caps.model}'s sizes"}


def seconds_schema(caps: ModelCapabilities) -> dict:
    if caps.seconds is None:
        low, high = ANY_SECONDS
        return {
            "anyOf": [
                {"type": "integer", "minimum": low, "maximum": high},
                {"type": "string", "enum": [str(n) for n in range(low, high + 1)]},
            ],
            "description": f"any whole number of seconds from {low} to {high}, as a string or an integer",
        }
    return {
        "anyOf": [
            {"type": "string", "enum": list(caps.seconds)},
            {"type": "integer", "enum": [int(s) for s in caps.seconds]},
        ],
        "description": f'{caps.model}\'s durations, as a string ("{caps.seconds[0]}") or an integer',
    }


def variants_schema(caps: ModelCapabilities, most: int, *, as_text: bool) -> dict:
    counts = {"type": "integer", "minimum": 1, "maximum": most}
    if caps.variants_by_size or as_text:  # the Sora 1 API also reads "2"
        return {"anyOf": [counts, {"type": "string", "enum": [str(n) for n in range(1, most + 1)]}]}
    return counts


def nullable(value: dict) -> dict:
    """`value` or null (the validator reads a null field as an absent one); a union stays one flat union."""
    if set(value) <= {"anyOf", "description"} and "anyOf" in value:
        return {**value, "anyOf": [*value["anyOf"], NULL]}
    return {"anyOf": [value, NULL]}


def request_branches(
    caps: ModelCapabilities,
    common: dict,
    *,
    model: dict,
    provider: dict,
    required: Sequence[str],
    title: str,
    components: dict,
) -> list[dict]:
    """The request schemas of one model, named (or not) as `model` and `provider` say: one per variants limit."""
    groups: dict[int, list[str]] = {}
    for size in caps.sizes or ():
        groups.setdefault(caps.variants_by_size.get(size, caps.max_variants), []).append(size)
    if not caps.variants_by_size or not groups:
        groups = {caps.max_variants: list(caps.sizes) if caps.sizes is not None else None}  # type: ignore[dict-item]
    branches = []
    for most, sizes in groups.items():
        properties = {"prompt": common["prompt"], "model": model, "provider": provider}
        properties["size"] = nullable(size_schema(caps, sizes))
        properties["seconds"] = nullable(seconds_schema(caps))
        if caps.max_variants > 1:
            properties["variants"] = nullable(variants_schema(caps, most, as_text=False))
        if caps.reference is not None:
            properties["input_reference"] = nullable(reference_schema())
        if caps.remix:
            properties["remix"] = common["remix"]
        properties["callback_url"] = common["callback_url"]
        properties["metadata"] = common["metadata"]
        properties["provider_options"] = nullable(ref(options_component(caps, components)))
        # The branch holding the default size may leave `size` out; the others must name one of theirs.
        needs_size = sizes is not None and caps.default_size not in sizes
        branch = {
            "type": "object",
            "title": title + (f" up to {most} variants" if len(groups) > 1 else ""),
            "required": ["prompt", *required, *(["size"] if needs_size else [])],
            "properties": properties,
            "additionalProperties": False,
        }
        if needs_size:
            properties["size"] = size_schema(caps, sizes)
        name = class_name(branch["title"])
        components[name] = branch
        branches.append(ref(name))
    return branches


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def class_name(title: str) -> str:
    """A component name from a title: "sora sora-2 request" is "SoraSora2Request" (generated clients' class names)."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", title) if word)


def options_component(caps: ModelCapabilities, components: dict) -> str:
    """The component of a model's `provider_options` (shared by the models that take the same options)."""
    properties = {name: spec.json_schema() for name, spec in caps.options.items()}
    name = class_name(f"{caps.provider} {caps.model} options") if properties else "NoProviderOptions"
    components[name] = {
        "type": "object",
        "title": name,
        "properties": properties,
        "additionalProperties": False,
        "description": f"{caps.model}'s options" if properties else "the model takes no provider options",
    }
    return name


def reference_schema() -> dict:
    return {"oneOf": [ref("BlobReference"), ref("RunReference")],
            "description": "a blob, or a frame of a completed run (URLs are never fetched)"}  # fmt: skip


def reference_components(containers: Sequence[str], components: dict) -> None:
    """The reference schemas, with the containers the app reads references from (a setting) spelled out."""
    blob = components["BlobReference"] = schema.BlobReference.model_json_schema(ref_template=REF)
    names = "|".join(containers) or "(?!)"
    blob["properties"]["blob"]["pattern"] = f"^({names})/{schema.BLOB_SEGMENTS}$"
    blob["properties"]["blob"]["description"] += f" ({', '.join(containers)})"
    components["RunReference"] = schema.RunReference.model_json_schema(ref_template=REF)


def request_schema(providers: Sequence[ProviderPlugin], settings, common: dict, components: dict) -> dict:
    """One schema per configured model, and one per provider for a request that names no model."""
    branches: list[dict] = []
    claimed: set[str] = set()
    for index, plugin in enumerate(providers):
        models = plugin.models(settings)
        for caps in models:
            named = {"type": "string", "const": caps.model}
            provider = {"type": "string", "const": plugin.name}
            # A model an earlier provider also serves goes there unless the request names this provider.
            required = ["model"] if caps.model not in claimed else ["model", "provider"]
            branches += request_branches(
                caps,
                common,
                model=named,
                provider=provider if caps.model in claimed else nullable(provider),
                required=required,
                title=f"{plugin.name} {caps.model} request",
                components=components,
            )
            claimed.add(caps.model)
        default = plugin.capabilities(plugin.default_model(settings), settings)
        if default is None:
            continue
        provider = {"type": "string", "const": plugin.name}
        branches += request_branches(default, common, model=NULL, provider=provider, required=["provider"],
                                     title=f"{plugin.name} default model request", components=components)  # fmt: skip
        if index == 0:
            branches += request_branches(default, common, model=NULL, provider=NULL, required=[],
                                         title="default model request", components=components)  # fmt: skip
    return {
        "oneOf": branches,
        "description": "The fields every model takes, with the values each model allows: one schema per model "
        "(GET /api/models lists the same table). A request without `model` gets the default model's values.",
    }


def multipart_schema(providers: Sequence[ProviderPlugin], settings, common: dict) -> dict:
    """The default model's request as form fields (every value text), with `input_reference` a JPEG, PNG or WebP."""
    caps = providers[0].capabilities(providers[0].default_model(settings), settings) if providers else None
    properties: dict = {"prompt": common["prompt"]}
    if caps is not None:
        properties["size"] = size_schema(caps)
        if caps.seconds is not None:
            properties["seconds"] = {"type": "string", "enum": list(caps.seconds)}
    properties["callback_url"] = {k: v for k, v in common["callback_url"]["anyOf"][0].items()}
    properties["input_reference"] = {"type": "string", "format": "binary", "contentMediaType": "image/png",
                                     "description": "JPEG, PNG or WebP, at most 20 MB"}  # fmt: skip
    return {
        "type": "object",
        "required": ["prompt"],
        "properties": properties,
        "additionalProperties": False,
        "description": "The default model's request as form fields. The other fields of the JSON request (model, "
        "variants, metadata and remix as JSON text) are read too, with the same rules per model.",
    }


def schema_components(providers: Sequence[ProviderPlugin], settings, containers: Sequence[str]) -> dict:
    components: dict = {}
    common = component(schema.VideoRequest, components)["properties"]
    reference_components(containers, components)
    components["Metadata"] = common["metadata"]["anyOf"][0]
    common["metadata"] = nullable(ref("Metadata"))
    request = request_schema(providers, settings, common, components)
    components["VideoRequest"] = request
    components["VideoForm"] = multipart_schema(providers, settings, common)
    for model in (schema.RemixRequest, *schema.RESPONSES):
        components[model.__name__] = component(model, components)
    split_long_patterns(components)
    return components


def split_long_patterns(node: object) -> None:
    """Move the `maxLength` of a long patterned string into an `allOf` beside it: the same rule, but fuzzers and
    generators build the boundary-length string without searching a regex for it (minutes, for 32,000 characters)."""
    if isinstance(node, dict):
        if "pattern" in node and node.get("maxLength", 0) > 256:
            node["allOf"] = [*node.get("allOf", []), {"maxLength": node.pop("maxLength")}]
        for value in node.values():
            split_long_patterns(value)
    elif isinstance(node, list):
        for value in node:
            split_long_patterns(value)


def problem_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def run_response(description: str, *, location: bool = False, links: dict | None = None) -> dict:
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}},
    }
    if location:
        response["headers"] = {"Location": {"schema": {"type": "string"}, "description": "the run's URL"}}
    if links:
        response["links"] = links
    return response


def json_response(description: str, name: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


RUN_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 64},
    "description": "a run id as this API returned it; any other id is a 404",
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    # Printable ASCII without a comma: the host joins a repeated header with commas.
    "schema": {"type": "string", "pattern": "^[ -+\\--~]{1,255}$"},
    "description": "a retried POST with the same key and body returns the same run; another body is a 409",
}
# The run a 202 names, for the operations that take its id (schemathesis's stateful phase follows these).
RUN_LINKS = {
    name: {"operationId": operation, "parameters": {"id": "$response.body#/id"}}
    for name, operation in (
        ("GetRun", "getVideoRun"),
        ("CancelRun", "cancelVideoRun"),
        ("GetContent", "getVideoContent"),
        ("RemixRun", "remixVideoRun"),
        ("DeleteRun", "deleteVideoRun"),
    )
}
NOT_FOUND = problem_response("no such run")
# The host refuses a missing or wrong function key itself, before any function runs, with an empty body.
UNAUTHORIZED = {"description": "no valid function key (x-functions-key header or ?code=); the body is empty"}
TOO_LARGE = problem_response("the body is larger than allowed (1 MiB of JSON, 21 MiB of multipart)")
UNSUPPORTED = problem_response("the body is not JSON (or multipart where allowed), or its charset is not UTF-8")
UNAVAILABLE = problem_response("storage could not be reached; retrying later may help")
MISCONFIGURED = problem_response("an app setting is missing or malformed; `detail` names it")


def request_example(providers: Sequence[ProviderPlugin], settings) -> dict:
    """A request for the default model at its default size and longest duration."""
    example: dict = {"prompt": "a red panda making latte art, close up, soft morning light"}
    caps = providers[0].capabilities(providers[0].default_model(settings), settings) if providers else None
    if caps is not None:
        example |= {"model": caps.model, "size": caps.default_size}
        example["seconds"] = caps.seconds[-1] if caps.seconds else caps.default_seconds
    return example


def openapi_document(providers: Sequence[ProviderPlugin], settings, containers: Sequence[str]) -> dict:
    """The API's OpenAPI 3.1 document for the configured `providers` and reference `containers`."""
    statuses = [s.value for s in RunStatus]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "soraflow",
            "version": "1.0.0",
            "description": "Durable video generation: requests in, finished videos in Blob Storage. What each model "
            "accepts is in the VideoRequest schemas and at GET /api/models.",
        },
        "servers": [{"url": "/api"}],
        "components": {
            "schemas": schema_components(providers, settings, containers),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": {
            "/videos": {
                "post": {
                    "operationId": "startVideoRun",
                    "summary": "Start a run (JSON, or multipart with an input_reference image)",
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/VideoRequest"},
                                "example": request_example(providers, settings),
                            },
                            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/VideoForm"}},
                        },
                    },
                    "responses": {
                        "202": run_response(
                            "the run was started (or a retried POST found it)", location=True, links=RUN_LINKS
                        ),
                        "400": problem_response("the request is invalid; `errors` names each field"),
                        "401": UNAUTHORIZED,
                        "409": problem_response("the Idempotency-Key was used with another body"),
                        "413": TOO_LARGE,
                        "415": UNSUPPORTED,
                        "500": MISCONFIGURED,
                        "503": UNAVAILABLE,
                    },
                },
                "get": {
                    "operationId": "listVideoRuns",
                    "summary": "List runs, newest first",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string", "enum": statuses}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {
                            "name": "continuation",
                            "in": "query",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                            "description": "the `continuation` of the previous page, as it was returned; any other "
                            "value is a 400",
                        },
                    ],
                    "responses": {
                        "200": json_response("a page of runs", "RunList"),
                        "400": problem_response("a query parameter is invalid"),
                        "401": UNAUTHORIZED,
                    },
                },
            },
            "/videos/{id}": {
                "get": {
                    "operationId": "getVideoRun",
                    "summary": "The run resource",
                    "parameters": [RUN_ID],
                    "responses": {"200": run_response("the run"), "401": UNAUTHORIZED, "404": NOT_FOUND},
                },
                "delete": {
                    "operationId": "deleteVideoRun",
                    "summary": "Delete a finished run's outputs and history",
                    "parameters": [RUN_ID],
                    "responses": {
                        "204": {"description": "deleted"},
                        "401": UNAUTHORIZED,
                        "404": NOT_FOUND,
                        "409": problem_response("the run is still in progress"),
                        "503": UNAVAILABLE,
                    },
                },
            },
            "/videos/{id}/cancel": {
                "post": {
                    "operationId": "cancelVideoRun",
                    "summary": "Stop a live run",
                    "parameters": [RUN_ID],
                    "responses": {
                        "202": run_response("cancellation requested"),
                        "401": UNAUTHORIZED,
                        "404": NOT_FOUND,
                        "409": problem_response("the run already ended"),
                    },
                }
            },
            "/videos/{id}/content": {
                "get": {
                    "operationId": "getVideoContent",
                    "summary": "Redirect to a short-lived read-only URL of an output",
                    "parameters": [
                        RUN_ID,
                        {
                            "name": "variant",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["video", "thumbnail", "spritesheet"]},
                        },
                        {"name": "index", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 16}},
                        {
                            "name": "source",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["generation", "remix"]},
                        },
                        {
                            "name": "stream",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["false"]},
                            "description": "no longer supported: any other value is a 400; follow the 302 instead",
                        },
                    ],
                    "responses": {
                        "302": {
                            "description": "redirect to a read-only URL valid for 15 minutes",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                        },
                        "400": problem_response("a query parameter is invalid (`stream=true` included)"),
                        "401": UNAUTHORIZED,
                        "404": problem_response("no such run or output"),
                        "409": problem_response("the run has not finished"),
                        "503": UNAVAILABLE,
                    },
                }
            },
            "/videos/{id}/remix": {
                "post": {
                    "operationId": "remixVideoRun",
                    "summary": "Start a new run remixing a completed one (where its model can remix)",
                    "parameters": [RUN_ID, IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/RemixRequest"},
                                "example": {"prompt": "the same scene, at night, in the rain"},
                            }
                        },
                    },
                    "responses": {
                        "202": run_response("the remix run was started", location=True),
                        "400": problem_response("the request is invalid, or the run's model cannot remix"),
                        "401": UNAUTHORIZED,
                        "404": NOT_FOUND,
                        "409": problem_response("the run is not completed, or the key was reused"),
                        "413": TOO_LARGE,
                        "415": problem_response("the body is not JSON, or its charset is not UTF-8"),
                        "500": MISCONFIGURED,
                    },
                }
            },
            "/models": {
                "get": {
                    "operationId": "listModels",
                    "summary": "The configured models: provider, sizes, durations, reference image, remix, price",
                    "responses": {
                        "200": json_response("every model a request may name, the default one first", "ModelList"),
                        "401": UNAUTHORIZED,
                        "500": MISCONFIGURED,
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness: the app answers (no settings, storage or provider call)",
                    "security": [],
                    "responses": {"200": json_response("alive", "Health")},
                }
            },
            "/health/ready": {
                "get": {
                    "operationId": "readiness",
                    "summary": "Readiness: settings, task hub, blob trigger, storage and provider (cached for 5 s)",
                    "responses": {
                        "200": json_response("ready", "Readiness"),
                        "401": UNAUTHORIZED,
                        "503": json_response(
                            "not ready; each failed check names the setting or says what failed", "Readiness"
                        ),
                    },
                }
            },
        },
    }
