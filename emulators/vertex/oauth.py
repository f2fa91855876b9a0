"""Google's OAuth 2 token endpoint for a service account the emulator makes, so the app's google-auth gets real tokens.

With `--service-account-key FILE` the emulator writes a service-account key (JSON) whose `token_uri` is its own
`POST /token`, and grants its `--api-key` token to jwt-bearer assertions signed by that key for the cloud-platform
scope, as Google's endpoint does. Used by `./dev.sh run --model veo-3.1-generate-001`; the tests' own token server
(`tests/google_token_server.py`) also covers workload identity federation.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

# google-auth addresses every assertion to Google's endpoint, whatever the key file's token_uri says.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_LIFETIME_SECONDS = 3600
# What a token is when the emulator was started without --api-key (it then accepts any token anyway).
DEFAULT_TOKEN = "vertex-emulator-token"


class ServiceAccount:
    """A fresh RSA key, the key file that carries it, and the check of assertions signed with it."""

    def __init__(self, *, project: str, token_uri: str, access_token: str):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.project = project
        self.token_uri = token_uri
        self.access_token = access_token
        self.email = f"soraflow-local@{project}.iam.gserviceaccount.com"

    def key_file(self) -> dict:
        """The service-account key as Google's console downloads it, but pointing at this emulator for tokens."""
        return {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": "vertex-emulator",
            "private_key": self._private_pem,
            "client_email": self.email,
            "client_id": "100000000000000000000",
            "token_uri": self.token_uri,
        }

    def write_key_file(self, path: Path) -> None:
        """Write the key file readable by its owner only (it holds a private key)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(self.key_file(), file)

    def grant(self, form: dict[str, str]) -> tuple[int, dict]:
        """Google's answer to a token request: the access token, or an OAuth error body."""
        if form.get("grant_type") != JWT_BEARER:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        try:
            claims = jwt.decode(form.get("assertion", ""), certs=self._public_pem, audience=GOOGLE_TOKEN_AUDIENCE)
        except ValueError as exc:
            return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT Signature. ({exc})"}
        if claims.get("iss") != self.email:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: the issuer is not this account."}
        if CLOUD_PLATFORM_SCOPE not in str(claims.get("scope", "")).split():
            return 400, {
                "error": "invalid_scope",
                "error_description": f"The scope must include {CLOUD_PLATFORM_SCOPE}.",
            }
        return 200, {"access_token": self.access_token, "expires_in": TOKEN_LIFETIME_SECONDS, "token_type": "Bearer"}


SERVICE_ACCOUNT = web.AppKey("vertex.service_account", ServiceAccount)


async def token(request: web.Request) -> web.Response:
    """POST /token: exchange a signed assertion for an access token (form-encoded, as google-auth sends it)."""
    form = dict(urllib.parse.parse_qsl((await request.read()).decode("utf-8", "replace")))
    status, body = request.app[SERVICE_ACCOUNT].grant(form)
    return web.json_response(body, status=status)


def routes() -> list[web.RouteDef]:
    return [web.post("/token", token)]
