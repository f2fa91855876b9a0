"""The emulator's OAuth token endpoint: google-auth's service-account flow gets the emulator's token, and only a
key file the emulator wrote can sign for it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from emulators import processes
from tests.emulators.vertex.conftest import PROJECT, model_path

TOKEN = "oauth-test-token"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
BODY = {"instances": [{"prompt": "a kite"}], "parameters": {"durationSeconds": 4}}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[tuple[processes.Server, dict]]:
    root = tmp_path_factory.mktemp("vertex-oauth")
    key_file = root / "service-account.json"
    server = processes.start_vertex_emulator(
        args=["--api-key", TOKEN, "--project", PROJECT, "--service-account-key", str(key_file),
              "--media-cache", str(root / "media"), "--time-scale", "0.02"],
        log_path=root / "vertex.log",
    )  # fmt: skip
    yield server, json.loads(key_file.read_text())
    server.stop()


def test_the_key_file_points_google_auth_at_the_emulator_and_its_token_is_accepted(emulator):
    server, info = emulator
    assert info["token_uri"] == f"{server.url}/token" and info["project_id"] == PROJECT
    credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    credentials.refresh(Request())
    assert credentials.token == TOKEN and credentials.expiry is not None
    response = httpx.post(server.url + model_path("predictLongRunning"), json=BODY,
                          headers={"Authorization": f"Bearer {credentials.token}"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["name"].startswith(f"projects/{PROJECT}/")


def test_an_assertion_signed_by_another_key_gets_no_token(emulator, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    _, info = emulator
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()  # fmt: skip
    credentials = service_account.Credentials.from_service_account_info({**info, "private_key": pem}, scopes=SCOPES)
    with pytest.raises(Exception, match="invalid_grant"):
        credentials.refresh(Request())


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "not.a.jwt"}, "invalid_grant"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}, "invalid_grant"),
    ],
)
def test_malformed_token_requests_get_oauth_errors(emulator, form, error):
    server, _ = emulator
    response = httpx.post(f"{server.url}/token", data=form)
    assert response.status_code == 400 and response.json()["error"] == error


def test_a_token_for_another_scope_is_refused(emulator):
    _, info = emulator
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/devstorage.read_only"]
    )
    with pytest.raises(Exception, match="invalid_scope"):
        credentials.refresh(Request())
