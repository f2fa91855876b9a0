"""The create activity asks a provider that pushes completion to call the app back, at the app's public URL."""

from __future__ import annotations

from activities.provider_jobs import webhook_url
from soraflow.config import Settings
from soraflow.providers.registry import parse_request

BOTH = {"SORA_ENDPOINT": "http://127.0.0.1:8910", "FAL_KEY": "k"}


def request_for(model: str, settings: Settings):
    return parse_request({"prompt": "a kite", "model": model}, settings)


def test_a_fal_run_asks_for_the_webhook_at_public_base_url_with_its_run_id(monkeypatch):
    monkeypatch.delenv("WEBSITE_HOSTNAME", raising=False)
    settings = Settings.from_env({**BOTH, "PUBLIC_BASE_URL": "https://videos.example.test/"})
    url = webhook_url(request_for("fal-ai/veo3.1", settings), "run-abc123", settings)
    assert url == "https://videos.example.test/api/webhooks/fal?run=run-abc123"


def test_on_azure_without_public_base_url_the_site_host_name_is_used(monkeypatch):
    monkeypatch.setenv("WEBSITE_HOSTNAME", "myapp.azurewebsites.net")
    settings = Settings.from_env(BOTH)
    url = webhook_url(request_for("fal-ai/veo3.1", settings), "run-abc123", settings)
    assert url == "https://myapp.azurewebsites.net/api/webhooks/fal?run=run-abc123"


def test_without_a_public_url_the_run_only_polls(monkeypatch):
    monkeypatch.delenv("WEBSITE_HOSTNAME", raising=False)
    settings = Settings.from_env(BOTH)
    assert webhook_url(request_for("fal-ai/veo3.1", settings), "run-abc123", settings) is None


def test_a_provider_that_cannot_push_is_never_given_a_webhook(monkeypatch):
    monkeypatch.delenv("WEBSITE_HOSTNAME", raising=False)
    settings = Settings.from_env({**BOTH, "PUBLIC_BASE_URL": "https://videos.example.test"})
    assert webhook_url(request_for("sora-2", settings), "run-abc123", settings) is None
