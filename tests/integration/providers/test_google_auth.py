"""Google access tokens through google-auth's real flows (service-account JWT grant, workload identity federation's
STS exchange) against a loopback token endpoint: fetched lazily, reused, refreshed five minutes before expiry."""

from __future__ import annotations

import json

import pytest

from soraflow.errors import ConfigurationError
from soraflow.providers.errors import ProviderAuthenticationError
from soraflow.providers.google_auth import GoogleTokenAuth, load_google_credentials
from tests.google_token_server import GoogleTokenServer

TOKEN = "google-test-token-0123456789"


@pytest.fixture
def tokens():
    with GoogleTokenServer(TOKEN) as server:
        yield server


def test_a_service_account_key_file_gets_a_token_from_its_token_uri(tokens, tmp_path):
    auth = GoogleTokenAuth(load_google_credentials(str(tokens.write_key_file(tmp_path))))
    assert auth.headers() == {"Authorization": f"Bearer {TOKEN}"}
    assert len(tokens.grants) == 1 and tokens.grants[0]["iss"].startswith("soraflow@")


def test_the_token_is_reused_until_five_minutes_before_it_expires(tokens):
    now = [0.0]
    auth = GoogleTokenAuth(load_google_credentials(json.dumps(tokens.service_account_info())), clock=lambda: now[0])
    auth.token()
    expires_on = auth._expires_on
    now[0] = expires_on - 301
    auth.token()
    assert len(tokens.grants) == 1
    now[0] = expires_on - 299
    auth.token()
    assert len(tokens.grants) == 2


def test_a_refused_token_is_dropped_and_the_next_call_refreshes():
    with GoogleTokenServer(TOKEN, rotate=True) as rotating:
        auth = GoogleTokenAuth(load_google_credentials(json.dumps(rotating.service_account_info())))
        assert auth.token() == f"{TOKEN}-1"
        assert auth.invalidate() is True
        assert auth.token() == f"{TOKEN}-2"
        assert auth.secrets() == (f"{TOKEN}-1", f"{TOKEN}-2")


def test_workload_identity_federation_exchanges_the_identity_token_without_a_stored_key(tokens, tmp_path):
    subject = tmp_path / "azure-token"
    subject.write_text(tokens.subject_token)
    config = json.dumps(tokens.external_account_info(subject))
    assert GoogleTokenAuth(load_google_credentials(config)).token() == TOKEN
    assert tokens.grants[0]["subject_token"] == tokens.subject_token


def test_credentials_google_refuses_are_an_authentication_error_naming_the_setting(tokens):
    with GoogleTokenServer(TOKEN) as other:
        forged = {**other.service_account_info(), "token_uri": tokens.token_uri}  # signed by a key tokens never issued
    auth = GoogleTokenAuth(load_google_credentials(json.dumps(forged)))
    with pytest.raises(ProviderAuthenticationError, match="VERTEX_CREDENTIALS"):
        auth.token()
    assert tokens.grants == []


@pytest.mark.parametrize("value", ['{"type": "authorized_user"}', "/no/such/key.json", "{not json"])
def test_unusable_credentials_are_a_configuration_error_naming_vertex_credentials(value):
    with pytest.raises(ConfigurationError) as raised:
        load_google_credentials(value)
    assert "VERTEX_CREDENTIALS" in str(raised.value)
