"""Schemathesis hooks for the fuzz module: what a schema cannot know, filled in for schema-valid cases only.

- Schema-valid POSTs share one Idempotency-Key per operation, so a valid body starts one (paid) run at most; later
  valid bodies under that key replay it or get the documented 409.
- A schema-valid `input_reference` names a blob or run that must exist: it is pointed at the real ones the test
  made (SOFT_FUZZ_BLOB, SOFT_FUZZ_RUN), keeping the generated `fit` and `at_seconds`; a multipart file becomes a
  real PNG; a list page's `continuation` is one the API returned (SOFT_FUZZ_CONTINUATION). Schema-violating cases
  are sent as generated. The referenced run is never deleted (a DELETE of it asks for a run that does not exist).
"""

from __future__ import annotations

import os
from pathlib import Path

import schemathesis


def is_positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.method.upper() == "DELETE" and (case.path_parameters or {}).get("id") == os.environ["SOFT_FUZZ_RUN"]:
        # The stateful phase finds every run in the list; the one valid references name must outlive the fuzz.
        case.path_parameters = {**case.path_parameters, "id": "run-kept0for0references"}
    if not is_positive(case):
        return
    if case.query and case.query.get("continuation") is not None:
        case.query = {**case.query, "continuation": os.environ["SOFT_FUZZ_CONTINUATION"]}
    if case.method.upper() != "POST":
        return
    case.headers = {**(case.headers or {}), "Idempotency-Key": f"fuzz {case.method} {case.operation.path}"}
    body = case.body
    if not isinstance(body, dict):
        return
    reference = body.get("input_reference")
    if isinstance(reference, dict) and "blob" in reference:
        body["input_reference"] = {**reference, "blob": os.environ["SOFT_FUZZ_BLOB"]}
    elif isinstance(reference, dict) and "run" in reference:
        body["input_reference"] = {**reference, "run": os.environ["SOFT_FUZZ_RUN"]}
    elif isinstance(reference, bytes | str) and case.media_type == "multipart/form-data":
        body["input_reference"] = Path(os.environ["SOFT_FUZZ_PNG"]).read_bytes()
