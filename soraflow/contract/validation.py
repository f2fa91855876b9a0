"""A request body checked against the contract's pydantic model, after the field-by-field checks of
`soraflow.video_request` passed: whatever the published schema refuses, the app refuses too."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from soraflow.contract.schema import RemixRequest, VideoRequest
from soraflow.errors import FieldError

# The discriminated union's tag follows `input_reference` in an error's location; it is not a field.
TAGGED = ("input_reference",)


def contract_errors(body: Mapping, *, remix: bool = False) -> list[FieldError]:
    """The violations of the request schema (empty when `body` conforms), each naming its field."""
    body = dict(body)
    reference = body.get("input_reference")
    if isinstance(reference, Mapping) and "upload" in reference:  # set by the server after a multipart upload
        del body["input_reference"]
    try:
        (RemixRequest if remix else VideoRequest).model_validate(body)
    except ValidationError as error:
        found: dict[str, list[str]] = {}
        for item in error.errors(include_url=False):
            reasons = found.setdefault(field_of(item["loc"]), [])
            reason = REASONS.get(item["type"], item["msg"].lower())
            if reason not in reasons:
                reasons.append(reason)
        return [FieldError(name, f"{name}: {' or '.join(reasons)}") for name, reasons in found.items()]
    return []


REASONS = {"union_tag_not_found": "must have exactly one of blob or run", "union_tag_invalid": "must have exactly "
           "one of blob or run", "extra_forbidden": "is not a field of this request"}  # fmt: skip
# Locations name the branch of a union (`int`, `str`) and a dict's key check (`[key]`): neither is a field.
BRANCHES = {"int", "str", "float", "bool", "[key]", "none"}


def field_of(location: tuple) -> str:
    """An error location as our `field`: "input_reference.blob", "metadata.<key>"."""
    parts: list[str] = []
    after_tagged = False
    for part in location:
        if after_tagged:  # a discriminated union's tag
            after_tagged = False
            continue
        if isinstance(part, str) and (part in BRANCHES or part.startswith(("function-", "dict[", "list["))):
            continue
        text = str(part)
        parts.append(text if len(text) <= 64 and text.isprintable() else text[:60].encode("unicode_escape").decode()
                     + "…")  # fmt: skip
        after_tagged = part in TAGGED
    return ".".join(parts) or "body"


def remix_fields() -> tuple[str, ...]:
    return tuple(RemixRequest.model_fields)
