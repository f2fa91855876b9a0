"""GET /api/health: are the settings sane, and can storage and the provider be reached?"""

import json

import azure.durable_functions as df
import azure.functions as func

from soraflow.config import Settings
from soraflow.errors import ConfigurationError

bp = df.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Report configuration problems by setting name; 503 when the app cannot work as configured."""
    checks: dict[str, dict] = {}
    try:
        settings = Settings.from_env()
        checks["settings"] = {"ok": True, "sora_api": settings.sora_api, "model": settings.sora_model}
    except ConfigurationError as exc:
        checks["settings"] = {"ok": False, "setting": exc.setting, "message": exc.message}
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if ok else "unhealthy", "checks": checks}
    return func.HttpResponse(json.dumps(body), status_code=200 if ok else 503, mimetype="application/json")
