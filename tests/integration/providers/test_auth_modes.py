"""Both auth modes against the emulator: `api-key`, and Entra bearer tokens from an injected credential."""

from __future__ import annotations

import pytest

from soraflow.providers import JobStatus, ProviderAuthenticationError, build_provider
from tests.conftest import SORA_EMULATOR_KEY
from tests.integration.providers.conftest import FAST_RETRY, TokenIssuer, logged, settings_for


def test_wrong_api_key_is_an_authentication_error_not_retried_and_not_echoed(sora_emulator):
    wrong = "wrong-key-0123456789abcdef"
    client = build_provider(settings_for(sora_emulator.url, key=wrong), retry=FAST_RETRY)
    try:
        with pytest.raises(ProviderAuthenticationError) as info:
            client.get("video_x")
    finally:
        client.close()
    assert info.value.http_status == 401 and info.value.provider_code == "invalid_api_key"
    assert not info.value.retryable
    assert wrong not in info.value.message
    assert [e["status"] for e in logged(sora_emulator, operation="retrieve")] == [401]


def test_missing_credentials_are_refused(sora_emulator):
    client = build_provider(settings_for(sora_emulator.url, key=None), credential=TokenIssuer(""))
    try:
        with pytest.raises(ProviderAuthenticationError, match="no token"):
            client.list()
    finally:
        client.close()
    assert logged(sora_emulator, operation="list") == []


def test_bearer_token_is_fetched_once_and_reused(sora_emulator):
    issuer = TokenIssuer(SORA_EMULATOR_KEY)
    client = build_provider(settings_for(sora_emulator.url, key=None), credential=issuer, retry=FAST_RETRY)
    try:
        job = client.create("A cat on a motorcycle", model="sora-2", size="1280x720", seconds=4)
        assert client.get(job.id).id == job.id
        assert client.list().jobs[0].id == job.id
    finally:
        client.close()
    assert issuer.calls == [("https://cognitiveservices.azure.com/.default",)]


def test_bearer_token_close_to_expiry_is_refreshed_before_use(sora_emulator):
    # Tokens that expire within the 5-minute margin are never reused: each call fetches a fresh one.
    issuer = TokenIssuer(SORA_EMULATOR_KEY, lifetime=120)
    client = build_provider(settings_for(sora_emulator.url, key=None), credential=issuer, retry=FAST_RETRY)
    try:
        for _ in range(3):
            client.list()
    finally:
        client.close()
    assert len(issuer.calls) == 3
    assert [e["status"] for e in logged(sora_emulator, operation="list")] == [200, 200, 200]


def test_a_refused_token_is_replaced_once_and_the_create_happens_exactly_once(sora_emulator):
    issuer = TokenIssuer("revoked-token-0123456789", SORA_EMULATOR_KEY)
    client = build_provider(settings_for(sora_emulator.url, key=None), credential=issuer, retry=FAST_RETRY)
    try:
        job = client.create("A cat", model="sora-2", size="1280x720", seconds=4)
        assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        assert [j.id for j in client.iter_jobs()] == [job.id]
    finally:
        client.close()
    assert len(issuer.calls) == 2
    assert [e["status"] for e in logged(sora_emulator, operation="create")] == [401, 200]


def test_a_token_refused_twice_is_an_authentication_error(sora_emulator):
    issuer = TokenIssuer("bad-token-0123456789", "still-bad-token-0123456789")
    client = build_provider(settings_for(sora_emulator.url, key=None), credential=issuer, retry=FAST_RETRY)
    try:
        with pytest.raises(ProviderAuthenticationError) as info:
            client.get("video_x")
    finally:
        client.close()
    assert "bad-token-0123456789" not in info.value.message
    assert [e["status"] for e in logged(sora_emulator, operation="retrieve")] == [401, 401]
