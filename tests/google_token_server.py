"""A loopback OAuth 2 token endpoint for google-auth's flows, and key files and configs whose token URLs point at it.

It checks what Google checks (a jwt-bearer grant with an RS256 assertion signed by the key and addressed to Google's
endpoint, or an STS token exchange of the federated identity's token; the cloud-platform scope) and counts grants.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
WIF_AUDIENCE = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/azure/providers/soraflow"


class GoogleTokenServer:
    """Grants `token` (or `token-N` when `rotate`) for assertions signed by its service account's key."""

    def __init__(self, token: str, *, expires_in: int = 3600, rotate: bool = False):
        self.token = token
        self.expires_in = expires_in
        self.rotate = rotate
        self.grants: list[dict] = []
        # What a workload identity federation config's credential source holds (the Azure managed identity's token).
        self.subject_token = "azure-managed-identity-token"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def token_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def service_account_info(self) -> dict:
        """A service-account key (JSON) whose token endpoint is this server."""
        return {
            "type": "service_account",
            "project_id": "soraflow-test",
            "private_key_id": "test-key",
            "private_key": self._private_pem,
            "client_email": "soraflow@soraflow-test.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": self.token_uri,
        }

    def write_key_file(self, folder: Path) -> Path:
        path = folder / "service-account.json"
        path.write_text(json.dumps(self.service_account_info()))
        return path

    def __enter__(self) -> GoogleTokenServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def external_account_info(self, subject_token_file: Path, audience: str = WIF_AUDIENCE) -> dict:
        """A workload identity federation config that exchanges the file's token at this server's STS endpoint."""
        return {
            "type": "external_account",
            "audience": audience,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": self.token_uri.replace("/token", "/v1/token"),
            "credential_source": {"file": str(subject_token_file)},
        }

    def _exchange(self, form: dict[str, str]) -> tuple[int, dict]:
        if form.get("audience") != WIF_AUDIENCE or form.get("subject_token") != self.subject_token:
            return 400, {"error": "invalid_grant", "error_description": "the subject token or audience is wrong"}
        if "https://www.googleapis.com/auth/cloud-platform" not in form.get("scope", "").split():
            return 400, {"error": "invalid_scope"}
        self.grants.append(form)
        return 200, {
            "access_token": self.token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }

    def _grant(self, form: dict[str, str]) -> tuple[int, dict]:
        if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange":
            return self._exchange(form)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}
        try:
            # google-auth addresses every assertion to Google's endpoint, whatever the key file's token_uri says.
            claims = jwt.decode(form.get("assertion", ""), certs=self._public_pem, audience=GOOGLE_TOKEN_AUDIENCE)
        except ValueError as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        if "https://www.googleapis.com/auth/cloud-platform" not in claims.get("scope", "").split():
            return 400, {"error": "invalid_scope"}
        self.grants.append(claims)
        token = f"{self.token}-{len(self.grants)}" if self.rotate else self.token
        return 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                status, body = server._grant(form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
