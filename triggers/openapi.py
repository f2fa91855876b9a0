"""GET /api/openapi.json: the OpenAPI 3.1 document of the HTTP API, built from the one contract
(`soraflow.contract`) for the configured models; tests check real responses against it."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func

from soraflow.config import Settings
from soraflow.errors import ConfigurationError
from triggers.problems import problem_from_error

bp = df.Blueprint()


def openapi_document(settings: Settings | None = None) -> dict:
    """The document for `settings` (the app's own by default): one request schema per configured model."""
    # pydantic and the schema builder load on the first request, not when the function app is indexed.
    from soraflow.contract.document import openapi_document as build
    from soraflow.providers.registry import configured_providers
    from triggers.videos_api import reference_containers

    settings = settings or Settings.from_env()
    return build(configured_providers(settings), settings, reference_containers(settings))


@bp.route(route="openapi.json", methods=["GET"])
def get_openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 3.1 document of this API; a malformed model setting is a 500 naming it."""
    try:
        document = openapi_document()
    except ConfigurationError as error:
        return problem_from_error(error, status=500)
    return func.HttpResponse(json.dumps(document), mimetype="application/json")
