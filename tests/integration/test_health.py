"""Health: anonymous liveness touches nothing; keyed readiness probes Azurite and the Sora emulator for real, reports
the blob trigger and the task hub, never creates a container, and reuses its answer for a few seconds per config."""

from __future__ import annotations

import json
import os
import uuid

import azure.functions as func
import pytest
from azure.storage.blob import BlobServiceClient

from soraflow.providers import close_provider_clients
from soraflow.storage import blob_store as blob_store_module
from tests.conftest import SORA_EMULATOR_KEY
from tests.integration.providers.conftest import logged
from triggers import health

liveness = health.health._function.get_user_function()
readiness = health.readiness._function.get_user_function()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(health, "_clock", fake)
    return fake


@pytest.fixture
def settings(azurite_connection_string, sora_emulator, monkeypatch) -> dict[str, str]:
    """A working configuration on a fresh, not yet existing output container; it is the whole environment."""
    env = {
        "SORA_ENDPOINT": sora_emulator.url,
        "SORA_API_KEY": SORA_EMULATOR_KEY,
        "VIDEO_STORAGE": azurite_connection_string,
        "TASKHUB_NAME": "soraflow",
        "VIDEO_OUTPUT_CONTAINER": f"health{uuid.uuid4().hex[:12]}",
    }
    close_provider_clients()
    monkeypatch.setattr(blob_store_module, "_output_store", None)
    monkeypatch.setattr(health, "_cache", {})
    monkeypatch.setattr(os, "environ", env)
    yield env
    close_provider_clients()


def call(function, route: str) -> tuple[int, dict]:
    response = function(func.HttpRequest("GET", f"http://127.0.0.1/api/{route}", headers={}, body=b""))
    return response.status_code, json.loads(response.get_body())


def container_exists(connection_string: str, container: str) -> bool:
    return BlobServiceClient.from_connection_string(connection_string).get_container_client(container).exists()


def test_liveness_calls_neither_storage_nor_the_provider(settings, sora_emulator, azurite_connection_string):
    assert call(liveness, "health") == (200, {"status": "ok"})
    assert logged(sora_emulator) == []
    assert not container_exists(azurite_connection_string, settings["VIDEO_OUTPUT_CONTAINER"])


def test_readiness_probes_storage_without_creating_the_output_container(settings, azurite_connection_string):
    status, body = call(readiness, "health/ready")
    assert (status, body["status"]) == (200, "ready"), body
    assert body["checks"]["storage"]["ok"] is True
    assert body["checks"]["storage"]["container_exists"] is False
    assert not container_exists(azurite_connection_string, settings["VIDEO_OUTPUT_CONTAINER"])


def test_readiness_sees_an_existing_output_container(settings, azurite_connection_string):
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    service.create_container(settings["VIDEO_OUTPUT_CONTAINER"])
    assert call(readiness, "health/ready")[1]["checks"]["storage"]["container_exists"] is True


def test_readiness_calls_the_provider(settings, sora_emulator):
    call(readiness, "health/ready")
    assert [entry["operation"] for entry in logged(sora_emulator)] == ["list"]


def test_readiness_reports_the_blob_triggers_source_and_container_and_the_task_hub(settings):
    settings.update(VIDEO_REQUEST_TRIGGER_SOURCE=" logsandcontainerscan ", VIDEO_REQUEST_CONTAINER="drop-box")
    checks = call(readiness, "health/ready")[1]["checks"]
    assert checks["blob_trigger"] == {"ok": True, "source": "LogsAndContainerScan", "container": "drop-box"}
    assert checks["task_hub"] == {"ok": True, "name": "soraflow"}


def test_readiness_reports_the_default_blob_trigger_when_its_settings_are_unset(settings):
    checks = call(readiness, "health/ready")[1]["checks"]
    assert checks["blob_trigger"] == {"ok": True, "source": "EventGrid", "container": "video-requests"}


def test_an_unknown_trigger_source_is_not_ready_naming_the_setting_and_the_choices(settings):
    settings["VIDEO_REQUEST_TRIGGER_SOURCE"] = "Polling"
    status, body = call(readiness, "health/ready")
    assert (status, body["status"]) == (503, "not_ready")
    check = body["checks"]["blob_trigger"]
    assert (check["ok"], check["setting"], check["source"]) == (False, "VIDEO_REQUEST_TRIGGER_SOURCE", "EventGrid")
    assert "EventGrid or LogsAndContainerScan" in check["message"]


def test_a_malformed_fal_model_table_is_not_ready_naming_the_setting(settings):
    settings |= {"FAL_KEY": "k", "FAL_EXTRA_MODELS": '{"fal-ai/x": {"sizes": {"wide": {}}, "seconds": ["5"]}}'}
    status, body = call(readiness, "health/ready")
    assert status == 503
    check = body["checks"]["settings"]
    assert (check["ok"], check["setting"]) == (False, "FAL_EXTRA_MODELS")
    assert "'fal-ai/x'" in check["message"] and "sizes" in check["message"]


def test_a_missing_task_hub_is_not_ready_naming_it(settings):
    del settings["TASKHUB_NAME"]
    status, body = call(readiness, "health/ready")
    assert status == 503
    assert body["checks"]["task_hub"]["setting"] == "TASKHUB_NAME"
    assert "is not set" in body["checks"]["task_hub"]["message"]


def test_readiness_reuses_its_answer_within_the_cache_time(settings, sora_emulator, clock):
    first = call(readiness, "health/ready")
    clock.now += health.READINESS_CACHE_SECONDS - 0.1
    assert call(readiness, "health/ready") == first
    assert len(logged(sora_emulator, operation="list")) == 1


def test_readiness_probes_again_once_the_cache_time_has_passed(settings, sora_emulator, clock):
    call(readiness, "health/ready")
    clock.now += health.READINESS_CACHE_SECONDS
    call(readiness, "health/ready")
    assert len(logged(sora_emulator, operation="list")) == 2


def test_a_settings_change_is_not_masked_by_the_cache(settings, clock):
    assert call(readiness, "health/ready")[0] == 200
    settings["TASKHUB_NAME"] = "not-a-hub-name"
    status, body = call(readiness, "health/ready")
    assert (status, body["checks"]["task_hub"]["setting"]) == (503, "TASKHUB_NAME")


def test_liveness_is_anonymous_and_readiness_needs_a_function_key():
    def auth_level(function) -> str:
        [trigger] = [json.loads(b) for b in function._function.get_raw_bindings() if "httpTrigger" in b]
        return trigger["authLevel"]

    assert (auth_level(health.health), auth_level(health.readiness)) == ("ANONYMOUS", "FUNCTION")
