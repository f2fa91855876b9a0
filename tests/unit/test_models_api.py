"""GET /api/models: every configured model, and the one a request without `model` gets."""

from __future__ import annotations

import json
import os

import azure.functions as func
import pytest

from triggers import models

list_models = models.list_models._function.get_user_function()


def answer(monkeypatch, env: dict[str, str]) -> tuple[int, dict]:
    monkeypatch.setattr(os, "environ", env)
    response = list_models(func.HttpRequest("GET", "http://127.0.0.1/api/models", headers={}, body=b""))
    return response.status_code, json.loads(response.get_body())


@pytest.mark.parametrize(
    ("env", "default", "providers"),
    [
        ({"SORA_ENDPOINT": "http://sora.test"}, "sora-2", ["sora"]),
        ({"SORA_ENDPOINT": "http://sora.test", "SORA_MODEL": "sora-2-pro"}, "sora-2-pro", ["sora"]),
        ({"FAL_KEY": "k"}, "fal-ai/veo3.1", ["fal"]),
        (
            {"SORA_ENDPOINT": "http://sora.test", "FAL_KEY": "k", "VIDEO_PROVIDER": "fal"},
            "fal-ai/veo3.1",
            ["fal", "sora"],
        ),
        ({"VERTEX_PROJECT": "p"}, "veo-3.1-generate-001", ["vertex"]),
    ],
)
def test_the_default_model_is_the_default_providers(monkeypatch, env, default, providers):
    status, body = answer(monkeypatch, env)
    assert status == 200
    assert (body["default_model"], body["providers"]) == (default, providers)
    assert default in [model["model"] for model in body["data"]]


def test_a_malformed_model_table_is_a_500_naming_the_setting(monkeypatch):
    status, body = answer(monkeypatch, {"FAL_KEY": "k", "FAL_EXTRA_MODELS": "{"})
    assert status == 500 and "FAL_EXTRA_MODELS" in body["detail"]
