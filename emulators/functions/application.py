"""The function app under the host: its settings, host.json and the functions it declares.

Loading follows Core Tools: `local.settings.json` Values become environment variables (never overriding one
already set), `%NAME%` in host.json resolves from those settings, and the app object in `function_app.py` is
indexed once with `get_functions()` (a second call raises in azure-functions).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import inspect
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

log = logging.getLogger("host")

DEFAULT_HUB_NAME = "TestHubName"
# The Azure Storage provider's defaults for splitting long durable timers (DurableTaskOptions).
DEFAULT_MAX_SHORT_TIMER = dt.timedelta(days=6)
DEFAULT_LONG_TIMER_INTERVAL = dt.timedelta(days=3)
_SETTING_REFERENCE = re.compile(r"%([^%]+)%")
_TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$")


class AppLoadError(Exception):
    """The app folder cannot be run: a missing file, bad JSON, an unresolved setting, an import error."""


@dataclass
class FunctionSpec:
    """One function of the app as the host sees it: name, trigger binding, other bindings, the callable."""

    name: str
    trigger: dict
    bindings: list[dict]
    callable: Callable
    is_async: bool
    parameters: tuple[str, ...]

    @property
    def trigger_type(self) -> str:
        return self.trigger.get("type", "")

    def binding_of_type(self, binding_type: str) -> dict | None:
        """The first binding of this type (e.g. durableClient), or None."""
        return next((b for b in self.bindings if b.get("type") == binding_type), None)

    @property
    def durable_alias(self) -> str | None:
        """The name an orchestration/activity/entity trigger declares for itself, if any."""
        return self.trigger.get("orchestration") or self.trigger.get("activity") or self.trigger.get("entityName")


@dataclass
class HostSettings:
    """What the host takes from host.json, with `%NAME%` references already resolved."""

    raw: dict
    hub_name: str = DEFAULT_HUB_NAME
    route_prefix: str = "api"
    max_activities: int = 10
    max_orchestrators: int = 5
    max_entities: int = 5
    max_short_timer: dt.timedelta = DEFAULT_MAX_SHORT_TIMER
    long_timer_interval: dt.timedelta = DEFAULT_LONG_TIMER_INTERVAL

    @classmethod
    def from_json(cls, raw: dict) -> HostSettings:
        """Read the durable and http extension settings the host honours."""
        extensions = raw.get("extensions") or {}
        durable = extensions.get("durableTask") or {}
        http = extensions.get("http") or {}
        prefix = http.get("routePrefix", "api")
        settings = cls(raw=raw, route_prefix=str(prefix if prefix is not None else "").strip("/"))
        settings.hub_name = str(durable.get("hubName") or DEFAULT_HUB_NAME)
        settings.max_activities = _positive_int(durable, "maxConcurrentActivityFunctions", 10)
        settings.max_orchestrators = _positive_int(durable, "maxConcurrentOrchestratorFunctions", 5)
        settings.max_entities = _positive_int(durable, "maxConcurrentEntityFunctions", settings.max_orchestrators)
        provider = durable.get("storageProvider") or {}
        short = durable.get("maximumShortTimerDuration") or provider.get("maximumShortTimerDuration")
        interval = durable.get("longRunningTimerIntervalDuration") or provider.get("longRunningTimerIntervalDuration")
        if short:
            settings.max_short_timer = parse_timespan(short, "extensions.durableTask.maximumShortTimerDuration")
        if interval:
            settings.long_timer_interval = parse_timespan(
                interval, "extensions.durableTask.longRunningTimerIntervalDuration"
            )
        return settings


@dataclass
class FunctionApp:
    """A loaded app: its folder, settings, and functions indexed by trigger type and (case-insensitive) name."""

    directory: Path
    host: HostSettings
    functions: list[FunctionSpec]
    _by_kind: dict[str, dict[str, FunctionSpec]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.functions:
            names = self._by_kind.setdefault(spec.trigger_type, {})
            names[spec.name.lower()] = spec
            if spec.durable_alias:
                names[spec.durable_alias.lower()] = spec

    def find(self, trigger_type: str, name: str) -> FunctionSpec | None:
        """The function with this trigger type called `name` (function name or declared alias, any case)."""
        return self._by_kind.get(trigger_type, {}).get((name or "").lower())

    def of_type(self, trigger_type: str) -> list[FunctionSpec]:
        return [spec for spec in self.functions if spec.trigger_type == trigger_type]

    def names_of_type(self, trigger_type: str) -> list[str]:
        return sorted(spec.name for spec in self.of_type(trigger_type))


def parse_timespan(text: str, where: str) -> dt.timedelta:
    """A .NET TimeSpan string (`[-][d.]hh:mm:ss[.fffffff]`) as a timedelta."""
    match = _TIMESPAN.match(str(text).strip())
    if not match:
        raise AppLoadError(f"{where}: {text!r} is not a TimeSpan like 00:10:00 or 1.00:00:00")
    sign, days, hours, minutes, seconds, fraction = match.groups()
    value = dt.timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds),
        microseconds=int((fraction or "0").ljust(7, "0")[:6]),
    )
    return -value if sign else value


def format_timespan(value: dt.timedelta) -> str:
    """A timedelta as .NET TimeSpan text, the form the Durable SDK parses."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value.microseconds:
        text += f".{value.microseconds:06d}0"
    return f"{days}.{text}" if days else text


def load_local_settings(directory: Path, environ: dict[str, str] | None = None) -> dict:
    """Apply local.settings.json `Values` to the environment like Core Tools; return the whole file (or {})."""
    environ = os.environ if environ is None else environ
    path = directory / "local.settings.json"
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise AppLoadError(f"{path.name}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise AppLoadError(f"{path.name}: expected a JSON object")
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise AppLoadError(f"{path.name}: 'Values' must be an object of strings")
    for name, value in values.items():
        if name not in environ and value is not None:
            environ[name] = str(value)
    return document


def load_host_json(directory: Path, environ: dict[str, str] | None = None) -> HostSettings:
    """host.json with every `%NAME%` replaced by that setting; a missing host.json means defaults."""
    environ = os.environ if environ is None else environ
    path = directory / "host.json"
    if not path.exists():
        return HostSettings.from_json({"version": "2.0"})
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise AppLoadError(f"host.json: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise AppLoadError("host.json: expected a JSON object")
    return HostSettings.from_json(_resolve_settings(raw, environ, "host.json"))


def load_app(directory: Path) -> FunctionApp:
    """Import DIR/function_app.py (DIR on sys.path, cwd = DIR) and index its functions once."""
    directory = directory.resolve()
    script = directory / "function_app.py"
    if not script.exists():
        raise AppLoadError(f"{script} not found: the v2 programming model needs a function_app.py")
    load_local_settings(directory)
    host = load_host_json(directory)
    os.chdir(directory)
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    spec = importlib.util.spec_from_file_location("function_app", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise AppLoadError(f"importing function_app.py failed: {type(exc).__name__}: {exc}") from exc
    registers = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if not registers:
        raise AppLoadError("function_app.py defines no app (func.FunctionApp or df.DFApp) at module level")
    if len(registers) > 1:
        raise AppLoadError("function_app.py defines more than one app object; the worker indexes exactly one")
    try:
        indexed = registers[0].get_functions()
    except ValueError as exc:
        raise AppLoadError(f"indexing the app failed: {exc}") from exc
    functions = []
    for function in indexed:
        try:
            functions.append(_function_spec(function, os.environ))
        except AppLoadError as exc:
            # As the Functions host does: the function fails to index and is left out; the others run.
            log.error("Error indexing method 'Functions.%s': %s", function.get_function_name(), exc)
    names = [f.name.lower() for f in functions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AppLoadError(f"function names must be unique: {', '.join(duplicates)}")
    return FunctionApp(directory=directory, host=host, functions=functions)


def _function_spec(function: Any, environ: dict[str, str]) -> FunctionSpec:
    where = f"function {function.get_function_name()}"
    bindings = [_resolve_settings(json.loads(raw), environ, where) for raw in function.get_raw_bindings()]
    trigger = next((b for b in bindings if b.get("type", "").lower().endswith("trigger")), None)
    if trigger is None:
        raise AppLoadError(f"function {function.get_function_name()} has no trigger binding")
    user_function = function.get_user_function()
    try:
        parameters = tuple(inspect.signature(user_function).parameters)
    except (TypeError, ValueError):
        parameters = ()
    return FunctionSpec(
        name=function.get_function_name(),
        trigger=trigger,
        bindings=bindings,
        callable=user_function,
        is_async=inspect.iscoroutinefunction(user_function),
        parameters=parameters,
    )


def _resolve_settings(value: Any, environ: dict[str, str], where: str) -> Any:
    if isinstance(value, dict):
        return {key: _resolve_settings(item, environ, f"{where}:{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_settings(item, environ, where) for item in value]
    if isinstance(value, str):

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name not in environ:
                raise AppLoadError(f"{where}: '%{name}%' does not resolve to a value (set {name})")
            return environ[name]

        return _SETTING_REFERENCE.sub(substitute, value)
    return value


def _positive_int(section: dict, key: str, default: int) -> int:
    value = section.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise AppLoadError(f"host.json: extensions.durableTask.{key} must be a positive integer") from None
    if number < 1:
        raise AppLoadError(f"host.json: extensions.durableTask.{key} must be a positive integer")
    return number
