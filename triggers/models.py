"""GET /api/models: every model a request may name under the current settings, with its provider, what it can do
(sizes, durations, reference image, variants, remix, audio, retention, listing, push) and its price."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func

from soraflow.config import Settings
from soraflow.errors import ConfigurationError
from soraflow.providers.registry import configured_models, configured_providers
from triggers.problems import problem_from_error

bp = df.Blueprint()


@bp.route(route="models", methods=["GET"])
def list_models(req: func.HttpRequest) -> func.HttpResponse:
    """The configured models, the default one first; a malformed model or price setting is a 500 naming it."""
    try:
        settings = Settings.from_env()
        models = configured_models(settings)
    except ConfigurationError as error:
        return problem_from_error(error, status=500)
    providers = configured_providers(settings)
    body = {
        "object": "list",
        # What a request without `model` gets: the default provider's (VIDEO_PROVIDER) default model.
        "default_model": providers[0].default_model(settings) if providers else None,
        "providers": [provider.name for provider in providers],
        "data": [caps.to_dict() for caps in models],
    }
    return func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json")
