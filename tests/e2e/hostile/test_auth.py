"""Function keys: every operation in the OpenAPI document needs one, except health; a wrong key opens nothing.

Each operation of the served document is called without a key, with a wrong `x-functions-key`, and with a wrong
`?code=`; each must be a 401 that runs no function (no durable instance, no blob, no provider call). As in Azure, a
key in the header wins over `?code=`.
"""

from __future__ import annotations

import httpx
import pytest

from soraflow.config import Settings
from tests.e2e.conftest import FUNCTION_KEY
from triggers.openapi import openapi_document

# The operations do not depend on the settings (only the request schemas do): any configured provider lists them.
DOCUMENT = openapi_document(Settings.from_env({"SORA_ENDPOINT": "http://127.0.0.1:9"}))
OPERATIONS = [
    (method.upper(), path, operation) for path, item in DOCUMENT["paths"].items() for method, operation in item.items()
]
SECURED = [(m, p) for m, p, op in OPERATIONS if op.get("security", DOCUMENT["security"])]
OPEN = [(m, p) for m, p, op in OPERATIONS if not op.get("security", DOCUMENT["security"])]
WRONG = "not-the-function-key"
ATTEMPTS = {
    "no-key": {},
    "wrong-header": {"headers": {"x-functions-key": WRONG}},
    "wrong-code": {"params": {"code": WRONG}},
    "empty-header": {"headers": {"x-functions-key": ""}},
    "key-with-suffix": {"headers": {"x-functions-key": FUNCTION_KEY + "x"}},
    "key-prefix": {"headers": {"x-functions-key": FUNCTION_KEY[:-1]}},
}


@pytest.fixture(scope="module")
def run_id(hostile_app) -> str:
    run = hostile_app.run(prompt="a key on a string", seconds=4)
    assert run["status"] == "completed", run
    hostile_app.quiesce()
    return run["id"]


def url(app, path: str, run_id: str) -> str:
    return f"{app.url}/api{path.replace('{id}', run_id)}"


def test_only_health_is_open():
    assert OPEN == [("GET", "/health")]
    assert len(SECURED) == len(OPERATIONS) - 1 >= 7


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=str)
@pytest.mark.parametrize(("method", "path"), SECURED, ids=[f"{m} {p}" for m, p in SECURED])
def test_every_secured_operation_refuses_a_missing_or_wrong_key(hostile_app, run_id, method, path, attempt):
    before = hostile_app.snapshot()
    body = {"prompt": "let me in"} if method == "POST" else None
    response = httpx.request(method, url(hostile_app, path, run_id), json=body, timeout=30, **ATTEMPTS[attempt])
    assert response.status_code == 401
    assert response.content == b""
    assert hostile_app.snapshot().changes_since(before) == []


def test_health_needs_no_key(hostile_app):
    response = httpx.get(f"{hostile_app.url}/api/health", timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    "path", ["/api/openapi.json", "/runtime/webhooks/durabletask/instances", "/admin/host/status"], ids=str
)
def test_the_document_and_the_host_endpoints_need_their_keys(hostile_app, path):
    assert httpx.get(f"{hostile_app.url}{path}", timeout=30).status_code == 401
    if path != "/api/openapi.json":  # a function key opens functions, not the host's admin or system endpoints
        assert httpx.get(f"{hostile_app.url}{path}", params={"code": FUNCTION_KEY}, timeout=30).status_code == 401
    else:
        assert httpx.get(f"{hostile_app.url}{path}", params={"code": FUNCTION_KEY}, timeout=30).status_code == 200


def test_the_header_key_wins_over_a_wrong_code(hostile_app, run_id):
    headers = {"x-functions-key": FUNCTION_KEY}
    response = httpx.get(url(hostile_app, "/videos/{id}", run_id), headers=headers, params={"code": WRONG}, timeout=30)
    assert response.status_code == 200
    wrong_header = httpx.get(url(hostile_app, "/videos/{id}", run_id), headers={"x-functions-key": WRONG},
                             params={"code": FUNCTION_KEY}, timeout=30)  # fmt: skip
    assert wrong_header.status_code == 401
