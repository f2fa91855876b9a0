"""Malformed app settings: each is named by the error of the call that reads it and by readiness health
(/api/health/ready), and a secret in a malformed value is never echoed.

`CASES` is the corpus, kept as data so the reliability report can count it. Each case sets one setting on top of a
valid configuration and runs the real code that reads it: `Settings.from_env`, the provider client, the model table,
the price table, or the storage connection. Readiness and `POST /api/videos` are called as the functions themselves
with a real `func.HttpRequest`; every other setting points at the session's Azurite and Sora emulator, so readiness's
probes of storage and the provider succeed unless the case broke them. `HOST_CASES` are the settings only the host and
the indexing read (the task hub, the blob trigger): readiness names them too.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass

import azure.functions as func
import pytest

from soraflow.config import Settings
from soraflow.errors import ConfigurationError
from soraflow.pricing import estimate_cost
from soraflow.providers import close_provider_clients, provider_client
from soraflow.providers.sora_request import parse_video_request
from soraflow.storage import BlobStore
from soraflow.storage import blob_store as blob_store_module
from tests.conftest import SORA_EMULATOR_KEY
from triggers import health, videos_api

SECRET = "Zm9vYmFyc2VjcmV0dmFsdWUxMjM0NTY3ODkw"  # shaped like a key; must never come back in an error


@dataclass(frozen=True)
class BadSetting:
    """One malformed setting, the setting its error must name, and which code path reads it."""

    name: str
    value: str | None  # None: the setting is removed
    reader: str  # settings | provider | models | pricing | storage
    named: str = ""  # the setting the error names, when it is not `name` (identity settings name their own key)

    @property
    def expected(self) -> str:
        return self.named or self.name


# fmt: off
CASES: list[BadSetting] = [
    BadSetting("SORA_ENDPOINT", None, "settings"),
    BadSetting("SORA_ENDPOINT", "not a url", "settings"),
    BadSetting("SORA_ENDPOINT", "ftp://files.example/sora", "settings"),
    BadSetting("SORA_ENDPOINT", f"ftp://user:{SECRET}@files.example", "settings"),
    BadSetting("SORA_ENDPOINT", f"https://user:{SECRET}@sora.example", "provider"),
    BadSetting("SORA_ENDPOINT", "https://", "provider"),
    BadSetting("SORA_API", "sora3", "settings"),
    BadSetting("SORA_MAX_CONCURRENT_JOBS", "two", "settings"),
    BadSetting("SORA_MAX_CONCURRENT_JOBS", "0", "settings"),
    BadSetting("SORA_MAX_CONCURRENT_JOBS", "9" * 5000, "settings"),
    BadSetting("SORA_MAX_JOBS_PER_MINUTE", "1.5", "settings"),
    BadSetting("SORA_QUOTA_GATE", "maybe", "settings"),
    BadSetting("SORA_QUOTA_LEASE_SECONDS", "0", "settings"),
    BadSetting("SORA_QUOTA_LEASE_SECONDS", "nan", "settings"),
    BadSetting("VIDEO_OUTPUT_CONTAINER", "Bad_Name", "settings"),
    BadSetting("VIDEO_OUTPUT_CONTAINER", "ab", "settings"),
    BadSetting("VIDEO_OUTPUT_CONTAINER", "a--b", "settings"),
    BadSetting("VIDEO_REQUEST_CONTAINER", "../etc", "settings"),
    BadSetting("VIDEO_REQUEST_CONTAINER", "x" * 64, "settings"),
    BadSetting("RUN_TIMEOUT_MINUTES", "soon", "settings"),
    BadSetting("RUN_TIMEOUT_MINUTES", "-5", "settings"),
    BadSetting("RUN_TIMEOUT_MINUTES", "inf", "settings"),
    BadSetting("CREATE_RETRY_SECONDS", "5,x", "settings"),
    BadSetting("CREATE_RETRY_SECONDS", "99999", "settings"),
    BadSetting("CREATE_RETRY_SECONDS", ",".join(["1"] * 21), "settings"),
    BadSetting("DELETE_PROVIDER_COPY", "perhaps", "settings"),
    BadSetting("SORA_VIDEOS_PATH", "https://evil.example/v1/videos", "provider"),
    BadSetting("SORA_VIDEOS_PATH", "/openai/../../admin", "provider"),
    BadSetting("SORA_EXTRA_MODELS", "{not json", "models"),
    BadSetting("SORA_EXTRA_MODELS", "[]", "models"),
    BadSetting("SORA_EXTRA_MODELS", '{"my-model": {"like": "sora-9"}}', "models"),
    BadSetting("SORA_PRICING", "{oops", "pricing"),
    BadSetting("SORA_PRICING", '{"videos": {"sora-2": -1}}', "pricing"),
    BadSetting("SORA_PRICING", '{"audio": 1}', "pricing"),
    BadSetting("VIDEO_STORAGE", None, "storage"),
    BadSetting("VIDEO_STORAGE", "garbage", "storage"),
    BadSetting("VIDEO_STORAGE", "UseDevelopmentStorage=maybe", "storage"),
    BadSetting("VIDEO_STORAGE", f"AccountName=acct;AccountKey={SECRET}!!", "storage"),
    BadSetting("VIDEO_STORAGE", f"DefaultEndpointsProtocol=ftp;AccountName=acct;AccountKey={SECRET}", "storage"),
    BadSetting("VIDEO_STORAGE", f"AccountKey={SECRET}", "storage"),
    BadSetting("VIDEO_STORAGE", f"BlobEndpoint=https://acct.blob.core.windows.net/?sig={SECRET};SharedAccessSignature=",
               "storage"),
    BadSetting("VIDEO_STORAGE__blobServiceUri", f"https://acct.blob.core.windows.net/?sv=1&sig={SECRET}", "storage"),
    BadSetting("VIDEO_STORAGE__blobServiceUri", "http://acct.blob.core.windows.net", "storage"),
    BadSetting("VIDEO_STORAGE__accountName", "Not_An_Account!", "storage"),
]
HOST_CASES: list[BadSetting] = [
    BadSetting("TASKHUB_NAME", None, "task hub"),
    BadSetting("TASKHUB_NAME", "sora-flow", "task hub"),
    BadSetting("TASKHUB_NAME", "x" * 46, "task hub"),
    BadSetting("VIDEO_REQUEST_TRIGGER_SOURCE", "Polling", "blob trigger"),
    BadSetting("VIDEO_REQUEST_TRIGGER_SOURCE", f"EventGrid{SECRET}", "blob trigger"),
]
# fmt: on


@pytest.fixture
def valid(azurite_connection_string, sora_emulator) -> dict[str, str]:
    """A working configuration: the session's Azurite and Sora emulator."""
    return {"SORA_ENDPOINT": sora_emulator.url, "SORA_API_KEY": SORA_EMULATOR_KEY,
            "VIDEO_STORAGE": azurite_connection_string, "TASKHUB_NAME": "soraflow"}  # fmt: skip


def environment(valid: dict[str, str], case: BadSetting) -> dict[str, str]:
    env = dict(valid)
    if case.name.startswith("VIDEO_STORAGE__"):
        env.pop("VIDEO_STORAGE")
    if case.value is None:
        env.pop(case.name, None)
    else:
        env[case.name] = case.value
    return env


def read(case: BadSetting, env: dict[str, str]) -> None:
    """Run the code that reads this setting; it must raise ConfigurationError."""
    if case.reader == "settings":
        Settings.from_env(env)
    elif case.reader == "provider":
        provider_client(Settings.from_env(env))
    elif case.reader == "models":
        settings = Settings.from_env(env)
        parse_video_request({"prompt": "x"}, api="videos", default_model="sora-2",
                            extra_models=settings.sora_extra_models)  # fmt: skip
    elif case.reader == "pricing":
        settings = Settings.from_env(env)
        request = parse_video_request({"prompt": "x"}, api="videos", default_model="sora-2")
        estimate_cost(request, settings.sora_pricing)
    else:
        BlobStore.from_env(env).connection  # noqa: B018 - resolving the connection is the read


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch):
    """Each case builds its own clients: the shared provider clients and output store are caches of the settings."""
    close_provider_clients()
    monkeypatch.setattr(blob_store_module, "_output_store", None)
    monkeypatch.setattr(health, "_cache", {})
    yield
    close_provider_clients()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}={(c.value or 'unset')[:24]}")
def test_the_call_that_reads_a_malformed_setting_fails_naming_it(valid, case):
    with pytest.raises(ConfigurationError) as raised:
        read(case, environment(valid, case))
    assert raised.value.setting.lower() == case.expected.lower()
    assert case.expected.lower() in raised.value.message.lower()
    assert SECRET not in raised.value.message


@pytest.mark.parametrize("case", CASES + HOST_CASES, ids=lambda c: f"{c.name}={(c.value or 'unset')[:24]}")
def test_readiness_names_a_malformed_setting_without_echoing_secrets(valid, case, monkeypatch):
    monkeypatch.setattr(os, "environ", environment(valid, case))
    response = readiness(health_request("health/ready"))
    body = json.loads(response.get_body())
    assert response.status_code == 503
    assert body["status"] == "not_ready"
    failed = {name: check for name, check in body["checks"].items() if not check["ok"]}
    assert {check.get("setting", "").lower() for check in failed.values()} == {case.expected.lower()}, failed
    assert SECRET not in response.get_body().decode()


@pytest.mark.parametrize("case", CASES + HOST_CASES, ids=lambda c: f"{c.name}={(c.value or 'unset')[:24]}")
def test_liveness_answers_ok_whatever_the_settings(valid, case, monkeypatch):
    monkeypatch.setattr(os, "environ", environment(valid, case))
    response = liveness(health_request("health"))
    assert (response.status_code, json.loads(response.get_body())) == (200, {"status": "ok"})


START_CASES = [case for case in CASES if case.reader in ("settings", "models", "pricing")]


@pytest.mark.parametrize("case", START_CASES, ids=lambda c: f"{c.name}={(c.value or 'unset')[:24]}")
def test_a_start_with_a_malformed_setting_is_a_500_naming_it(valid, case, monkeypatch):
    monkeypatch.setattr(os, "environ", environment(valid, case))
    # The user's own coroutine, under the SDK's wrapper that would build a durable client from the host's binding.
    start = videos_api.start_video_run._function.get_user_function().__wrapped__
    request = func.HttpRequest("POST", "http://127.0.0.1/api/videos", headers={"content-type": "application/json"},
                               body=b'{"prompt": "a heron"}')  # fmt: skip
    response = asyncio.run(start(request, None))  # the settings are read before the durable client is touched
    problem = json.loads(response.get_body())
    assert response.status_code == 500
    assert problem["code"] == "configuration_error"
    assert case.expected in problem["detail"]
    assert SECRET not in problem["detail"]


def test_readiness_is_ready_with_the_valid_configuration(valid, monkeypatch):
    monkeypatch.setattr(os, "environ", valid)
    response = readiness(health_request("health/ready"))
    assert response.status_code == 200, response.get_body()
    assert json.loads(response.get_body())["status"] == "ready"


liveness = health.health._function.get_user_function()
readiness = health.readiness._function.get_user_function()


def health_request(route: str) -> func.HttpRequest:
    return func.HttpRequest("GET", f"http://127.0.0.1/api/{route}", headers={}, body=b"")
