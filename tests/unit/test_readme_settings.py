"""The README's Configuration table is true: every default it states is the default the code uses."""

from __future__ import annotations

import re

import pytest

from emulators.processes import REPO_ROOT
from soraflow.config import Settings, request_trigger, task_hub_name
from soraflow.errors import ConfigurationError
from soraflow.telemetry import AUTHENTICATION_STRING, CONNECTION_STRING, configure_telemetry, entra_credential

MINIMUM = {"SORA_ENDPOINT": "http://127.0.0.1:8910"}
# Settings whose README default is a description rather than a value (checked by their own tests).
DESCRIBED = {"SORA_VIDEOS_PATH": "per API", "SORA_PRICING": "built in"}
# README names that the Settings object spells differently.
FIELDS = {"RUN_POLLS_PER_EXECUTION": "polls_per_execution"}


def readme_defaults() -> dict[str, str]:
    section = (REPO_ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Za-z][A-Za-z0-9_]+)` \| ([^|]+) \|", section, flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def shown(value) -> str:
    """A setting's value as the README writes a default."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return "`" + ",".join(f"{v:g}" for v in value) + "`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def test_the_readme_lists_a_default_or_required_for_every_setting():
    defaults = readme_defaults()
    assert len(defaults) >= 25
    assert all(default for default in defaults.values())


@pytest.mark.parametrize("name", sorted(readme_defaults()))
def test_each_default_in_the_readme_is_the_default_the_code_uses(name):
    default = readme_defaults()[name]
    if name in DESCRIBED:
        assert default == DESCRIBED[name]
        return
    if default == "required":
        if name == "TASKHUB_NAME":
            with pytest.raises(ConfigurationError, match="TASKHUB_NAME"):
                task_hub_name({})
        elif name == "SORA_ENDPOINT":
            with pytest.raises(ConfigurationError, match="SORA_ENDPOINT"):
                Settings.from_env({})
        else:  # read by the Functions host or by the storage connection, never defaulted
            assert name in ("AzureWebJobsStorage", "VIDEO_STORAGE")
        return
    if name == "VIDEO_REQUEST_TRIGGER_SOURCE":
        assert shown(request_trigger({}).source) == default
        return
    if name in (CONNECTION_STRING, AUTHENTICATION_STRING):  # read by soraflow.telemetry, not by Settings
        assert default == "none"
        if name == CONNECTION_STRING:
            assert configure_telemetry({}) is False  # unset: no telemetry
        else:
            assert entra_credential({}) is None  # unset: the connection string's key, no identity
        return
    settings = Settings.from_env(MINIMUM)
    field = FIELDS.get(name, name.lower())
    assert hasattr(settings, field), f"{name} is in the README but Settings has no {field}"
    assert shown(getattr(settings, field)) == default
