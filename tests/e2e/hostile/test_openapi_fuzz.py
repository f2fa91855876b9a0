"""Schemathesis against the served /api/openapi.json on the local host: no 5xx, and every response matches it.

Each operation is fuzzed with schema-valid and schema-violating requests (bounded: MAX_EXAMPLES each, derandomized so
a failure reproduces), against random ids and against a real completed run. The checks: no server error, a documented
status code, content type, body schema and headers, schema-violating data rejected, and no answer without the key.
Schema-valid bodies may still be refused (a size the model does not offer, an unknown model): the document cannot
express every rule, so "valid data accepted" is not among the checks.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import FUNCTION_KEY
from tests.e2e.hostile.conftest import ORCHESTRATOR, RUNNING
from triggers.openapi import openapi_document

MAX_EXAMPLES = 25
KEY = {"x-functions-key": FUNCTION_KEY}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
]
# Deleting the real run last, so the other operations still find it.
OPERATIONS = sorted(
    ((method.upper(), path) for path, item in openapi_document()["paths"].items() for method in item),
    key=lambda op: (op[0] == "DELETE", op[1], op[0]),
)


@pytest.fixture(scope="module")
def served_schema(hostile_app):
    """The document as the host serves it (with the key), loaded by schemathesis."""
    response = httpx.get(f"{hostile_app.url}/api/openapi.json", headers=KEY, timeout=30)
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(response.json())


@pytest.fixture(scope="module", autouse=True)
def stop_fuzzed_runs(hostile_app):
    """Fuzzed POSTs start real runs; cancel those still live afterwards, so later modules do not wait on them."""
    yield
    for instance in hostile_app.durable_instances():
        if instance.get("name") == ORCHESTRATOR and instance["runtimeStatus"] in RUNNING:
            hostile_app.http.post(f"{hostile_app.url}/api/videos/{instance['instanceId']}/cancel")
    hostile_app.quiesce()


@pytest.fixture(scope="module")
def real_run(hostile_app) -> str:
    run = hostile_app.run(prompt="a paper plane over a city", seconds=4)
    assert run["status"] == "completed", run
    return run["id"]


@pytest.mark.parametrize("target", ["random-ids", "real-run"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_answer_matches_the_document(hostile_app, served_schema, real_run, method, path, mode, target):
    if target == "real-run" and "{id}" not in path:
        pytest.skip("the operation takes no run id")
    operation = served_schema[path][method]
    if mode is GenerationMode.NEGATIVE and not (operation.path_parameters or operation.query or operation.body or
                                                operation.headers):  # fmt: skip
        pytest.skip("nothing in this operation can be made invalid")
    overrides = {"path_parameters": {"id": real_run}} if target == "real-run" else {}
    failures: list[str] = []
    sent = 0

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode, **overrides))
    def fuzz(case):
        nonlocal sent
        if mode is GenerationMode.POSITIVE and method == "POST":
            # One key per operation: a valid body starts one paid run at most, the others replay it or get a 409.
            case.headers = {**(case.headers or {}), "Idempotency-Key": f"fuzz {method} {path}"}
        response = case.call(base_url=f"{hostile_app.url}/api", headers=KEY)
        sent += 1
        hostile_app.responses.append((str(dict(response.headers)), response.content))
        try:
            case.validate_response(response, checks=CHECKS, headers=KEY)
        except (FailureGroup, Failure) as failure:  # a group of every failed check, or the one that failed
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {failure}"[:3000])

    fuzz()
    assert sent > 0
    assert not failures, "\n\n".join(failures[:3])
