"""The Bicep templates under infra/, parsed with pycep-parser, and a small evaluator for the expressions soraflow's
templates use, so tests can ask what a deployment with given parameters would set."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
MAIN = "main.bicep"
API = "app/api.bicep"
RBAC = "app/rbac.bicep"


def bicep_files(root: Path = INFRA) -> list[Path]:
    """Every .bicep file under `root`, sorted."""
    return sorted(root.rglob("*.bicep"))


def parse(path: Path) -> dict[str, Any]:
    """The parsed template (raises lark's UnexpectedInput on a syntax error)."""
    return BicepParser().parse(file_path=path)


@cache
def _parsed_checked_in(relative: str) -> dict[str, Any]:
    return parse(INFRA / relative)


def load_templates(root: Path = INFRA) -> dict[str, dict[str, Any]]:
    """Every template under `root` by its path relative to it (`main.bicep`, `app/api.bicep`, ...)."""
    if root == INFRA:
        return {
            p.relative_to(root).as_posix(): _parsed_checked_in(p.relative_to(root).as_posix()) for p in bicep_files()
        }
    return {p.relative_to(root).as_posix(): parse(p) for p in bicep_files(root)}


def broken_copy(tmp_path: Path, relative: str, old: str, new: str) -> Path:
    """A copy of infra/ in tmp_path with `old` replaced by `new` in one file (which must contain `old` once)."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    target = copy / relative
    text = target.read_text()
    assert text.count(old) == 1, f"{relative} should hold {old!r} exactly once"
    target.write_text(text.replace(old, new))
    return copy


# --- walking the tree ---


def walk(node: Any):
    """Every dict and list inside `node`, depth first."""
    yield node
    if isinstance(node, Mapping):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def resource_body(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource's or module's declared body, under any `if` condition or `for` loop."""
    config = resource["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def resource_condition(resource: Mapping[str, Any]) -> Any:
    """A resource's or module's `if` condition, or None."""
    return resource["config"].get("condition")


def loop(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    """(item name, array name) of a resource's `for` loop, or None."""
    detail = (resource["config"].get("loop_type") or {}).get("detail")
    return (detail["item_name"], detail["array_name"]) if detail else None


def modules_from(template: Mapping[str, Any], path: str) -> dict[str, Mapping[str, Any]]:
    """The template's modules from the registry path `path` (e.g. `avm/res/storage/storage-account`)."""
    return {name: m for name, m in template.get("modules", {}).items() if m["detail"].get("path") == path}


def resources_of(templates: Mapping[str, Mapping[str, Any]], type_: str, *, existing: bool = False):
    """(file, symbol, resource) for every declared resource of `type_` in `templates`."""
    for file, template in templates.items():
        for symbol, resource in template.get("resources", {}).items():
            if resource["type"].lower() == type_.lower() and resource["existing"] is existing:
                yield file, symbol, resource


# --- evaluating expressions ---


class Unresolved(str):
    """A value known only at deployment (a resource property, a module output). It reads as an https URL, the shape
    most such values have, so URL checks downstream accept it."""

    def __new__(cls, reference: str):
        label = re.sub(r"[^a-z0-9]+", "-", reference.lower()).strip("-")
        value = super().__new__(cls, f"https://{label}.deployment.invalid/")
        value.label = label
        return value


def evaluate(node: Any, scope: Mapping[str, Any]) -> Any:
    """The value of a parsed expression, with `scope` mapping parameter and variable names to values (variables may
    be given as unevaluated nodes under `scope['__variables__']`)."""
    if isinstance(node, bool | int | float) or node is None:
        return node
    if isinstance(node, str):
        return _interpolate(node, scope)
    if isinstance(node, list):
        return [evaluate(item, scope) for item in node]
    if "operator" in node:
        return _operator(node["operator"], scope)
    if "function" in node:
        return _function(node["function"], scope)
    return {key: evaluate(value, scope) for key, value in node.items()}


def _name(node: Any, scope: Mapping[str, Any]) -> Any:
    """A bare identifier's value: a parameter, a variable, or an unresolved symbol."""
    if node in scope:
        return scope[node]
    variables = scope.get("__variables__", {})
    if node in variables:
        return evaluate(variables[node]["value"], scope)
    return Unresolved(node)


def _interpolate(text: str, scope: Mapping[str, Any]) -> Any:
    # pycep gives identifiers and string literals alike as str; an identifier is a bare name in scope.
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and (text in scope or text in scope.get("__variables__", {})):
        return _name(text, scope)

    def substitute(match: re.Match) -> str:
        expression = match.group(1).strip()
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", expression):
            return Unresolved(expression).label
        first, *path = expression.split(".")
        value = _name(first, scope)
        for key in path:
            value = value[key] if isinstance(value, Mapping) else Unresolved(expression)
        # Inside a string an unresolved value stands for a name or an id, not a URL.
        return value.label if isinstance(value, Unresolved) else str(value)

    return re.sub(r"\$\{([^}]+)\}", substitute, text)


def _dotted(node: Any) -> str:
    if isinstance(node, Mapping) and "operator" in node and "operand_1" in node["operator"]["operands"]:
        operands = node["operator"]["operands"]
        return f"{_dotted(operands['operand_1'])}.{_dotted(operands['operand_2'])}"
    if isinstance(node, Mapping) and "function" in node:
        return f"{node['function']['type']}()"
    return str(node)


def _operator(operator: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    kind, operands = operator["type"], operator["operands"]
    if kind == "conditional":
        chosen = "true_value" if evaluate(operands["condition"], scope) else "false_value"
        return evaluate(operands[chosen], scope)
    if kind == "not":
        return not evaluate(operands["bool_value"], scope)
    if kind == "equals":
        return evaluate(operands["operand_1"], scope) == evaluate(operands["operand_2"], scope)
    if kind == "and":
        return all(evaluate(value, scope) for value in operands.values())
    if kind == "or":
        return any(evaluate(value, scope) for value in operands.values())
    if kind == "property_accessor":
        base = operands["operand_1"]
        value = _name(base, scope) if isinstance(base, str) else evaluate(base, scope)
        if isinstance(value, Mapping) and isinstance(operands["operand_2"], str):
            return value[operands["operand_2"]]
        return Unresolved(_dotted({"operator": operator}))
    raise NotImplementedError(f"the evaluator does not know the operator {kind!r}")


def _function(function: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    kind = function["type"]
    arguments = [evaluate(value, scope) for value in (function.get("parameters") or {}).values()]
    if kind == "union":
        merged: dict[str, Any] = {}
        for argument in arguments:
            merged.update(argument)
        return merged
    if kind == "empty":
        return not arguments[0]
    if kind == "unique_string":
        return "uniquetoken13"
    if kind == "to_lower" and not isinstance(arguments[0], Unresolved):
        return str(arguments[0]).lower()
    if kind == "load_json_content" and "__root__" in scope:
        return json.loads((scope["__root__"] / arguments[0]).read_text())
    return Unresolved(kind)


def main_parameter_values(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """main.bicep's parameters at their defaults (azd's required ones filled in), then `overrides`."""
    main = _parsed_checked_in(MAIN)
    values = {name: p["default"] for name, p in main["parameters"].items() if "default" in p}
    values.update({"environmentName": "dev", "location": "swedencentral", "principalId": "", **(overrides or {})})
    unknown = set(values) - set(main["parameters"])
    assert not unknown, f"main.bicep has no parameters {sorted(unknown)}"
    return values


def deployed_app_settings(overrides: Mapping[str, Any] | None = None, root: Path = INFRA) -> dict[str, Any]:
    """The app settings a deployment of `root` with these main.bicep parameters gives the function app."""
    main = parse(root / MAIN) if root != INFRA else _parsed_checked_in(MAIN)
    api = parse(root / API) if root != INFRA else _parsed_checked_in(API)
    main_scope = {**main_parameter_values(overrides), "__variables__": main.get("variables", {}), "__root__": root}
    api_params = evaluate(resource_body(main["modules"]["api"])["params"], main_scope)
    for name, declared in api["parameters"].items():
        if name not in api_params:
            assert "default" in declared, f"main.bicep passes no {name} to {API}, which has no default"
            api_params[name] = declared["default"]
    site = resource_body(api["modules"]["site"])
    return evaluate(site["params"]["appSettingsKeyValuePairs"], {**api_params, "__variables__": api["variables"]})
