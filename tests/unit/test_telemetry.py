"""Telemetry setup: only the Azure Monitor distro's entry point is replaced; the credential is the real one."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import azure.monitor.opentelemetry as distro
import pytest
from azure.identity import ManagedIdentityCredential

from emulators.processes import REPO_ROOT
from soraflow.telemetry import configure_telemetry

# The ingestion endpoint is a closed loopback port: nothing here may send telemetry anywhere.
CONNECTION = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
CLIENT_ID = "5a1c7e0e-0000-4000-8000-00000000c11d"


@pytest.fixture
def monitor_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every call of the distro's configure_azure_monitor, which is replaced so that nothing is exported."""
    calls: list[dict] = []
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kwargs: calls.append(kwargs))
    return calls


class IdentityEndpoint(BaseHTTPRequestHandler):
    """The App Service managed identity endpoint (what Flex Consumption serves): records each token request."""

    requests: list[dict] = []

    def do_GET(self):
        IdentityEndpoint.requests.append(
            {"query": parse_qs(urlsplit(self.path).query), "header": self.headers.get("X-IDENTITY-HEADER")}
        )
        body = json.dumps({"access_token": "t", "expires_on": str(int(time.time()) + 3600), "token_type": "Bearer"})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def identity_endpoint(monkeypatch: pytest.MonkeyPatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), IdentityEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    IdentityEndpoint.requests = []
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{server.server_port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "identity-header")
    yield IdentityEndpoint.requests
    server.shutdown()
    server.server_close()


def client_id_asked_for(credential: ManagedIdentityCredential, requests: list[dict]) -> str | None:
    """Which identity the credential really requests a token for, from the identity endpoint's side."""
    credential.get_token("https://monitor.azure.com/.default")
    [request] = requests
    assert request["header"] == "identity-header"
    return (request["query"].get("client_id") or [None])[0]


def test_without_a_connection_string_nothing_is_configured(monitor_calls):
    assert configure_telemetry({}) is False
    assert configure_telemetry({"APPLICATIONINSIGHTS_CONNECTION_STRING": "  "}) is False
    assert monitor_calls == []


def test_a_connection_string_alone_configures_key_based_ingestion_of_soraflows_logs(monitor_calls):
    assert configure_telemetry({"APPLICATIONINSIGHTS_CONNECTION_STRING": f" {CONNECTION} "}) is True
    assert monitor_calls == [{"connection_string": CONNECTION, "credential": None, "logger_name": "soraflow"}]


def test_entra_authentication_uses_the_managed_identity_the_authentication_string_names(
    monitor_calls, identity_endpoint
):
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION,
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": f"ClientId={CLIENT_ID};Authorization=AAD",
        "AZURE_CLIENT_ID": "not-this-one",
    }
    assert configure_telemetry(env) is True
    [call] = monitor_calls
    assert (call["connection_string"], call["logger_name"]) == (CONNECTION, "soraflow")
    assert isinstance(call["credential"], ManagedIdentityCredential)
    assert client_id_asked_for(call["credential"], identity_endpoint) == CLIENT_ID


def test_without_a_client_id_in_the_authentication_string_azure_client_id_names_the_identity(
    monitor_calls, identity_endpoint
):
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION,
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "authorization=aad",
        "AZURE_CLIENT_ID": CLIENT_ID,
    }
    assert configure_telemetry(env) is True
    assert client_id_asked_for(monitor_calls[0]["credential"], identity_endpoint) == CLIENT_ID


def test_a_system_assigned_identity_is_used_when_no_client_id_is_given(monitor_calls, identity_endpoint):
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION,
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",
    }
    assert configure_telemetry(env) is True
    assert client_id_asked_for(monitor_calls[0]["credential"], identity_endpoint) is None


@pytest.mark.parametrize("raw", ["Authorization=Key", "ClientId=abc", "ClientId=abc;Authorization=AAD;Extra=1", "AAD"])
def test_a_malformed_authentication_string_is_logged_naming_the_setting_and_nothing_is_configured(
    monitor_calls, caplog, raw
):
    env = {"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION, "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": raw}
    with caplog.at_level(logging.ERROR, logger="soraflow.telemetry"):
        assert configure_telemetry(env) is False
    assert monitor_calls == []
    [record] = caplog.records
    assert "app setting APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be 'Authorization=AAD'" in record.message
    assert repr(raw) in record.message and "telemetry is not sent" in record.message


@pytest.mark.parametrize("switch", ["true", "True", "1"])
def test_when_the_functions_worker_sends_telemetry_itself_it_is_not_configured_twice(monitor_calls, switch):
    env = {"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION, "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": switch}
    assert configure_telemetry(env) is False
    assert monitor_calls == []
    env["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] = "false"
    assert configure_telemetry(env) is True


IMPORT_THE_APP = """
import json, sys
import azure.monitor.opentelemetry as distro
calls = []
distro.configure_azure_monitor = lambda **kwargs: calls.append(
    {name: type(value).__name__ if name == "credential" else value for name, value in kwargs.items()})
import function_app
print(json.dumps(calls))
"""

IMPORT_THE_APP_UNSET = """
import json, sys
import function_app
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("azure.monitor", "opentelemetry.sdk")))))
"""


def import_the_app(script: str, env: dict[str, str]):
    clean = {"PATH": os.environ.get("PATH", ""), **env}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=clean, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_app_with_a_connection_string_configures_telemetry_once():
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION,
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": f"ClientId={CLIENT_ID};Authorization=AAD",
    }
    assert import_the_app(IMPORT_THE_APP, env) == [
        {"connection_string": CONNECTION, "credential": "ManagedIdentityCredential", "logger_name": "soraflow"}
    ]


def test_importing_the_app_without_a_connection_string_loads_no_telemetry_sdk():
    assert import_the_app(IMPORT_THE_APP_UNSET, {}) == []
