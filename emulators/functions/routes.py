"""HTTP-trigger route templates, ASP.NET style: `{id}`, `{id:int}`, `{id?}`, `{x=default}`, `{*rest}`.

Segments match case-insensitively; constraints (int, long, bool, guid, alpha, datetime, decimal, double,
float, min/max/range, minlength/maxlength/length, regex) are checked after the shape matches; when several
templates match, the most specific wins (literal > constrained parameter > parameter > catch-all).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote

_CONSTRAINT = re.compile(r"^(\w+)(?:\((.*)\))?$")


class RouteError(ValueError):
    """A route template that cannot be parsed."""


@dataclass
class _Parameter:
    name: str
    constraints: list[Callable[[str], bool]] = field(default_factory=list)
    optional: bool = False
    default: str | None = None
    catch_all: bool = False


@dataclass
class RouteTemplate:
    """A parsed template; `match(path)` gives the route parameters or None."""

    template: str
    regex: re.Pattern
    parameters: dict[str, _Parameter]
    precedence: tuple

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        """Parse a Functions route template (without the route prefix)."""
        template = template.strip().strip("/")
        parameters: dict[str, _Parameter] = {}
        pattern = ""
        precedence: list[int] = []
        segments = template.split("/") if template else []
        for index, segment in enumerate(segments):
            if not segment:
                raise RouteError(f"route {template!r}: empty segment")
            literals, names = _split_segment(segment, template)
            segment_regex = ""
            optional_segment = False
            rank = 0
            for position, literal in enumerate(literals):
                segment_regex += re.escape(literal)
                if position < len(names):
                    parameter = _parse_parameter(names[position], template)
                    if parameter.name.lower() in {n.lower() for n in parameters}:
                        raise RouteError(f"route {template!r}: parameter {parameter.name!r} appears twice")
                    parameters[parameter.name] = parameter
                    group = f"p{len(parameters)}"
                    if parameter.catch_all:
                        if index != len(segments) - 1:
                            raise RouteError(f"route {template!r}: a catch-all must be the last segment")
                        segment_regex += f"(?P<{group}>.*)"
                        rank = max(rank, 4)
                    else:
                        segment_regex += f"(?P<{group}>[^/]+)"
                        rank = max(rank, 1 if parameter.constraints else 2)
                    if parameter.optional or parameter.default is not None or parameter.catch_all:
                        optional_segment = len(names) == 1 and not "".join(literals)
                        rank = max(rank, 3 if not parameter.catch_all else 4)
            if optional_segment:
                pattern += f"(?:/{segment_regex})?" if index else f"(?:{segment_regex})?"
            else:
                pattern += f"/{segment_regex}" if index else segment_regex
            precedence.append(rank)
        # \Z, not $: "$" also matches before a final newline, so GET /videos/%0A would reach the list of videos.
        regex = re.compile(f"^{pattern}/?\\Z", re.IGNORECASE | re.DOTALL)
        return cls(template=template, regex=regex, parameters=parameters, precedence=tuple(precedence))

    def match(self, path: str) -> dict[str, str] | None:
        """Route parameters for this (already-decoded, prefix-stripped, slash-trimmed) path, or None."""
        found = self.regex.match(path)
        if not found:
            return None
        values: dict[str, str] = {}
        for index, (name, parameter) in enumerate(self.parameters.items(), start=1):
            value = found.group(f"p{index}")
            if value is None or value == "":
                if parameter.default is not None:
                    values[name] = parameter.default
                elif not (parameter.optional or parameter.catch_all):
                    return None
                continue
            if not all(check(value) for check in parameter.constraints):
                return None
            values[name] = value
        return values

    def sort_key(self) -> tuple:
        """Sorts more specific templates first (ASP.NET's route precedence, simplified)."""
        return (self.precedence, -len(self.precedence))


def _split_segment(segment: str, template: str) -> tuple[list[str], list[str]]:
    """Literal texts and parameter bodies of one segment; `{{` and `}}` are escaped braces (ASP.NET rules)."""
    literals, names, current, index = [], [], "", 0
    while index < len(segment):
        char = segment[index]
        pair = segment[index : index + 2]
        if pair in ("{{", "}}"):
            current += char
            index += 2
        elif char == "{":
            body, index = "", index + 1
            while index < len(segment):
                pair = segment[index : index + 2]
                if pair in ("{{", "}}"):
                    body += pair[0]
                    index += 2
                elif segment[index] == "}":
                    break
                elif segment[index] == "{":
                    raise RouteError(f"route {template!r}: unbalanced braces in {segment!r}")
                else:
                    body += segment[index]
                    index += 1
            if index >= len(segment) or not body:
                raise RouteError(f"route {template!r}: unbalanced braces in {segment!r}")
            literals.append(current)
            names.append(body)
            current, index = "", index + 1
        elif char == "}":
            raise RouteError(f"route {template!r}: unbalanced braces in {segment!r}")
        else:
            current += char
            index += 1
    literals.append(current)
    return literals, names


def decode_path(raw_path: str) -> str:
    """The request path as templates see it: percent-decoded, without leading/trailing slashes."""
    return unquote(raw_path).strip("/")


def _parse_parameter(text: str, template: str) -> _Parameter:
    body = text.strip()
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    default = None
    if "=" in body:
        body, default = body.split("=", 1)
    optional = body.endswith("?")
    body = body.rstrip("?")
    name, *constraint_texts = _split_constraints(body)
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise RouteError(f"route {template!r}: {name!r} is not a valid parameter name")
    constraints = [_constraint(c, template) for c in constraint_texts]
    return _Parameter(name=name, constraints=constraints, optional=optional, default=default, catch_all=catch_all)


def _split_constraints(body: str) -> list[str]:
    # Colons inside regex(...) belong to the constraint, not to the separator.
    parts, depth, current = [], 0, ""
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _constraint(text: str, template: str) -> Callable[[str], bool]:
    match = _CONSTRAINT.match(text.strip())
    if not match:
        raise RouteError(f"route {template!r}: bad constraint {text!r}")
    kind, argument = match.group(1).lower(), match.group(2)
    simple: dict[str, Callable[[str], bool]] = {
        "int": lambda v: _is_integer(v, 32),
        "long": lambda v: _is_integer(v, 64),
        "bool": lambda v: v.lower() in ("true", "false"),
        "guid": _is_guid,
        "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
        "datetime": _is_datetime,
        "decimal": _is_decimal,
        "double": _is_float,
        "float": _is_float,
    }
    if kind in simple:
        return simple[kind]
    try:
        if kind == "regex":
            pattern = re.compile(argument or "", re.IGNORECASE)
            return lambda v: pattern.search(v) is not None
        numbers = [int(part) for part in (argument or "").split(",")]
    except (re.error, ValueError):
        raise RouteError(f"route {template!r}: bad constraint argument in {text!r}") from None
    bounded: dict[str, Callable[[str], bool]] = {
        "min": lambda v: _is_integer(v, 64) and int(v) >= numbers[0],
        "max": lambda v: _is_integer(v, 64) and int(v) <= numbers[0],
        "range": lambda v: _is_integer(v, 64) and numbers[0] <= int(v) <= numbers[-1],
        "minlength": lambda v: len(v) >= numbers[0],
        "maxlength": lambda v: len(v) <= numbers[0],
        "length": lambda v: numbers[0] <= len(v) <= numbers[-1],
    }
    if kind not in bounded:
        raise RouteError(f"route {template!r}: unknown constraint {kind!r}")
    return bounded[kind]


def _is_integer(value: str, bits: int) -> bool:
    if not re.fullmatch(r"[+-]?\d+", value):
        return False
    return -(2 ** (bits - 1)) <= int(value) < 2 ** (bits - 1)


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_decimal(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "infinity")


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
