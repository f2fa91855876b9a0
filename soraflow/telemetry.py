"""OpenTelemetry to Application Insights (traces, logs, metrics), configured once at startup.

Nothing is imported or configured unless APPLICATIONINSIGHTS_CONNECTION_STRING is set."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from soraflow.errors import ConfigurationError

if TYPE_CHECKING:
    from azure.identity import ManagedIdentityCredential

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
# With this on, the Python worker itself calls configure_azure_monitor before it imports the app (the otel azd
# template's way); a second call here would export every span and log twice.
WORKER_TELEMETRY = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
# Every soraflow logger is a child of this one; the SDKs' own loggers stay out of Application Insights.
LOGGER_NAME = "soraflow"

log = logging.getLogger("soraflow.telemetry")


def configure_telemetry(environ: Mapping[str, str] = os.environ) -> bool:
    """Send this process's telemetry to Application Insights if a connection string is set; True if this call did."""
    connection_string = environ.get(CONNECTION_STRING, "").strip()
    if not connection_string:
        return False
    if environ.get(WORKER_TELEMETRY, "").strip().lower() in ("true", "1"):
        log.info("%s is on: the Functions worker sends telemetry to Application Insights itself", WORKER_TELEMETRY)
        return False
    try:
        credential = entra_credential(environ)
    except ConfigurationError as problem:
        # The app must still index and run without telemetry; readiness is not the place for an exporter problem.
        log.error("%s; telemetry is not sent", problem.message)
        return False
    # Imported here: the distro pulls in the OpenTelemetry SDK and its instrumentations, which an unset app never needs.
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=connection_string, credential=credential, logger_name=LOGGER_NAME)
    return True


def entra_credential(environ: Mapping[str, str]) -> ManagedIdentityCredential | None:
    """The managed identity that APPLICATIONINSIGHTS_AUTHENTICATION_STRING asks for, or None for key-based ingestion."""
    raw = environ.get(AUTHENTICATION_STRING, "").strip()
    if not raw:
        return None
    expected = "must be 'Authorization=AAD' or 'ClientId=<client id>;Authorization=AAD'"
    parts: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(";"))):
        name, equals, value = pair.partition("=")
        if not equals or not value.strip():
            raise ConfigurationError(AUTHENTICATION_STRING, f"{expected}, got {raw!r}")
        parts[name.strip().lower()] = value.strip()
    if parts.get("authorization", "").lower() != "aad" or set(parts) - {"authorization", "clientid"}:
        raise ConfigurationError(AUTHENTICATION_STRING, f"{expected}, got {raw!r}")
    from azure.identity import ManagedIdentityCredential

    # A user-assigned identity is named by ClientId, else by AZURE_CLIENT_ID as everywhere else in the app.
    client_id = parts.get("clientid") or environ.get("AZURE_CLIENT_ID", "").strip() or None
    return ManagedIdentityCredential(client_id=client_id)
