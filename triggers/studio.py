"""GET /api/studio: the web studio, one page with its script and style served from triggers/studio/ (no build step).

Anonymous on purpose: the page holds no key; the person types it in (or opens the page with `?code=`) and the
page's script sends it with every API call, so the API stays keyed.
"""

from __future__ import annotations

from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()

STATIC_DIR = Path(__file__).with_name("studio")
# The only files served: a name outside this table is a 404, so the route can never read another file.
ASSETS = {"studio.js": "text/javascript", "studio.css": "text/css"}
# Everything the page loads comes from the app, except the outputs, which the content route redirects to storage.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: http: "
        "https:; media-src 'self' http: https:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    # Media requests to storage would otherwise carry the page's address, and with it a `?code=` key.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@bp.route(route="studio", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def studio_page(req: func.HttpRequest) -> func.HttpResponse:
    """The studio's HTML page."""
    return static_response("index.html", "text/html")


@bp.route(route="studio/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def studio_asset(req: func.HttpRequest) -> func.HttpResponse:
    """The studio's script or style sheet."""
    name = req.route_params.get("name", "")
    if name not in ASSETS:
        return func.HttpResponse("not found", status_code=404, mimetype="text/plain")
    return static_response(name, ASSETS[name])


def static_response(name: str, media_type: str) -> func.HttpResponse:
    body = (STATIC_DIR / name).read_bytes()
    return func.HttpResponse(body, status_code=200, mimetype=media_type, charset="utf-8", headers=SECURITY_HEADERS)
