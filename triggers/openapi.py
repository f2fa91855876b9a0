"""GET /api/openapi.json: the OpenAPI 3.1 document of the HTTP API (tests check real responses against it)."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func

from soraflow.providers.registry import MODEL_FIELDS
from soraflow.run_view import RUN_RESOURCE_FIELDS
from soraflow.runs import RunStatus
from soraflow.video_request import (
    MAX_CALLBACK_URL_CHARS,
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_CHARS,
    MAX_PROMPT_CHARS,
)

bp = df.Blueprint()

NULLABLE_STRING = {"type": ["string", "null"]}
ERROR = {
    "type": ["object", "null"],
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "retryable": {"type": "boolean"},
        "provider_code": NULLABLE_STRING,
    },
}
REFERENCE = {
    "oneOf": [
        {
            "type": "object",
            "required": ["blob"],
            "properties": {"blob": {"type": "string"}, "fit": {"enum": ["cover", "contain"]}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["run"],
            "properties": {
                "run": {"type": "string"},
                "at_seconds": {"type": "number", "minimum": 0},
                "fit": {"enum": ["cover", "contain"]},
            },
            "additionalProperties": False,
        },
    ]
}
METADATA = {
    "type": "object",
    "maxProperties": MAX_METADATA_KEYS,
    "propertyNames": {"maxLength": MAX_METADATA_KEY_CHARS},
    "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE_CHARS},
}
# Every key build_run_resource writes is always present (null when it does not apply).
RUN_FIELDS = list(RUN_RESOURCE_FIELDS)
SCHEMAS = {
    "VideoRequest": {
        "type": "object",
        "required": ["prompt"],
        "additionalProperties": False,
        "properties": {
            "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS},
            "model": {"type": "string"},
            "size": {"type": "string", "pattern": "^[0-9]+x[0-9]+$", "examples": ["720x1280", "1280x720"]},
            "seconds": {
                "type": ["string", "integer"],
                "description": 'videos API: "4", "8" or "12" (an integer is accepted); jobs API: 1-20',
            },
            "variants": {"type": "integer", "minimum": 1, "maximum": 4, "description": "jobs API only"},
            "input_reference": REFERENCE,
            "remix": {
                "type": "object",
                "required": ["prompt"],
                "properties": {"prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS}},
                "additionalProperties": False,
                "description": "videos API only: remix the first video with this prompt",
            },
            "callback_url": {"type": "string", "format": "uri", "maxLength": MAX_CALLBACK_URL_CHARS},
            "metadata": METADATA,
        },
    },
    "RemixRequest": {
        "type": "object",
        "required": ["prompt"],
        "additionalProperties": False,
        "properties": {
            "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS},
            "callback_url": {"type": "string", "format": "uri", "maxLength": MAX_CALLBACK_URL_CHARS},
            "metadata": METADATA,
        },
    },
    "Output": {
        "type": "object",
        "required": ["kind", "source", "index", "blob", "url"],
        "properties": {
            "kind": {"enum": ["video", "thumbnail", "spritesheet"]},
            "source": {"enum": ["generation", "remix"]},
            "index": {"type": "integer", "minimum": 0},
            "blob": {"type": "string"},
            "content_type": NULLABLE_STRING,
            "bytes": {"type": ["integer", "null"]},
            "url": {"type": "string"},
        },
    },
    "Run": {
        "type": "object",
        "required": RUN_FIELDS,
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": [s.value for s in RunStatus]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "queue_position": {"type": ["integer", "null"]},
            "request": {"type": ["object", "null"]},
            "provider": {
                "type": ["object", "null"],
                "properties": {
                    "api": {"enum": ["videos", "jobs"]},
                    "job_id": NULLABLE_STRING,
                    "status": NULLABLE_STRING,
                    "progress": {"type": ["integer", "null"]},
                },
            },
            "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Output"}},
            "error": ERROR,
            "remix_error": {**ERROR, "description": "why a chained remix failed; the run still completed"},
            "delete_error": {**ERROR, "description": "why a provider copy meant to be deleted could not be"},
            "cost": {
                "type": ["object", "null"],
                "properties": {"estimated_usd": {"type": ["number", "null"]}, "seconds": {"type": "integer"}},
            },
            "created_at": NULLABLE_STRING,
            "updated_at": NULLABLE_STRING,
            "completed_at": NULLABLE_STRING,
            "note": NULLABLE_STRING,
            "suspended": {"type": "boolean"},
        },
    },
    "RunList": {
        "type": "object",
        "required": ["object", "data", "has_more"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
            "has_more": {"type": "boolean"},
            "continuation": {"type": "string"},
        },
    },
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code", "errors"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
    "Model": {
        "type": "object",
        "required": list(MODEL_FIELDS),
        "additionalProperties": False,
        "properties": {
            "provider": {"type": "string"},
            "model": {"type": "string"},
            "sizes": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"const": "any"}]},
            "seconds": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"const": "any"}]},
            "default_size": {"type": "string"},
            "default_seconds": {"type": "string"},
            "reference_image": {
                "type": ["object", "null"],
                "required": ["first_frame", "last_frame", "transport", "must_match_size"],
                "properties": {
                    "first_frame": {"type": "boolean"},
                    "last_frame": {"type": "boolean"},
                    "transport": {"enum": ["multipart", "data-uri", "base64", "url"]},
                    "must_match_size": {"type": "boolean"},
                },
            },
            "max_variants": {"type": "integer", "minimum": 1},
            "remix": {"type": "boolean"},
            "audio": {"type": "boolean"},
            "negative_prompt": {"type": "boolean"},
            "seed": {"type": "boolean"},
            "price": {
                "type": "object",
                "required": ["usd_per_second", "per_variant"],
                "properties": {
                    "usd_per_second": {
                        "type": "object",
                        "description": 'USD per generated second by size ("*": any size); null where unknown',
                        "additionalProperties": {"type": ["number", "null"]},
                    },
                    "per_variant": {"type": "boolean"},
                },
            },
            "retention_hours": {"type": "number"},
            "lists_jobs": {"type": "boolean"},
            "pushes_completion": {"type": "boolean"},
            "source": {"type": "string"},
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "default_model", "providers", "data"],
        "properties": {
            "object": {"const": "list"},
            "default_model": {"type": "string"},
            "providers": {"type": "array", "items": {"type": "string"}},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}},
        },
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
    "Readiness": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "not_ready"]},
            "checks": {
                "type": "object",
                "description": "settings, task_hub, blob_trigger (source, container), storage, provider: each has "
                "`ok`, and names the `setting` or gives a `code` and `message` when it is not",
                "additionalProperties": {
                    "type": "object",
                    "required": ["ok"],
                    "properties": {
                        "ok": {"type": "boolean"},
                        "setting": {"type": "string"},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    },
}


def problem_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def run_response(description: str, *, location: bool = False) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}},
    }
    if location:
        response["headers"] = {"Location": {"schema": {"type": "string"}, "description": "the run's URL"}}
    return response


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
NOT_FOUND = problem_response("no such run")
# The host refuses a missing or wrong function key itself, before any function runs, with an empty body.
UNAUTHORIZED = {"description": "no valid function key (x-functions-key header or ?code=); the body is empty"}
TOO_LARGE = problem_response("the body is larger than allowed (1 MiB of JSON, 21 MiB of multipart)")
UNSUPPORTED = problem_response("the body is not JSON (or multipart where allowed), or its charset is not UTF-8")
UNAVAILABLE = problem_response("storage could not be reached; retrying later may help")
MISCONFIGURED = problem_response("an app setting is missing or malformed; `detail` names it")
MULTIPART_REQUEST = {
    "type": "object",
    "required": ["prompt"],
    "additionalProperties": False,
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS},
        "model": {"type": "string"},
        "size": {"type": "string"},
        "seconds": {"type": "string"},
        "variants": {"type": "string", "description": "jobs API only"},
        "callback_url": {"type": "string"},
        "metadata": {"type": "string", "description": "a JSON object, as text"},
        "remix": {"type": "string", "description": 'videos API only: {"prompt": ...} as text'},
        "input_reference": {"type": "string", "contentMediaType": "image/png", "description": "JPEG, PNG or WebP"},
    },
}


def openapi_document() -> dict:
    """The API's OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "soraflow",
            "version": "1.0.0",
            "description": "Durable video generation: Sora requests in, finished videos in Blob Storage.",
        },
        "servers": [{"url": "/api"}],
        "components": {
            "schemas": SCHEMAS,
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
                            "application/json": {"schema": {"$ref": "#/components/schemas/VideoRequest"}},
                            "multipart/form-data": {"schema": MULTIPART_REQUEST},
                        },
                    },
                    "responses": {
                        "202": run_response("the run was started (or a retried POST found it)", location=True),
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
                        {"name": "status", "in": "query", "schema": {"enum": [s.value for s in RunStatus]}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {"name": "continuation", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "a page of runs",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunList"}}},
                        },
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
                        {"name": "variant", "in": "query", "schema": {"enum": ["video", "thumbnail", "spritesheet"]}},
                        {"name": "index", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 16}},
                        {"name": "source", "in": "query", "schema": {"enum": ["generation", "remix"]}},
                        {
                            "name": "stream",
                            "in": "query",
                            "schema": {"enum": ["false"]},
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
                    "summary": "Start a new run remixing a completed one",
                    "parameters": [RUN_ID, IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RemixRequest"}}},
                    },
                    "responses": {
                        "202": run_response("the remix run was started", location=True),
                        "400": problem_response("the request is invalid"),
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
                        "200": {
                            "description": "every model a request may name, the default one first",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}},
                        },
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
                    "responses": {
                        "200": {
                            "description": "alive",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}},
                        },
                    },
                }
            },
            "/health/ready": {
                "get": {
                    "operationId": "readiness",
                    "summary": "Readiness: settings, task hub, blob trigger, storage and provider (cached for 5 s)",
                    "responses": {
                        "200": {
                            "description": "ready",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}},
                        },
                        "401": UNAUTHORIZED,
                        "503": {
                            "description": "not ready; each failed check names the setting or says what failed",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}},
                        },
                    },
                }
            },
        },
    }


@bp.route(route="openapi.json", methods=["GET"])
def get_openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 3.1 document of this API."""
    return func.HttpResponse(json.dumps(openapi_document()), mimetype="application/json")
