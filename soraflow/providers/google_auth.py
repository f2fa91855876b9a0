"""Bearer tokens for Google Cloud from google-auth credentials (service account, workload identity federation, ADC),
cached and refreshed shortly before they expire."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from soraflow.errors import ConfigurationError
from soraflow.providers.errors import ProviderAuthenticationError, redact, retry_advice

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Google access tokens live an hour; fetch a new one this long before expiry so none dies in flight.
REFRESH_MARGIN_SECONDS = 300.0


def load_google_credentials(value: str | None) -> Any:
    """Credentials from VERTEX_CREDENTIALS (a key file's path or its JSON: a service account, or an external-account
    config for workload identity federation), else Application Default Credentials."""
    # Imported here so importing soraflow never loads google-auth or probes the environment.
    import google.auth
    import google.auth.exceptions

    try:
        if not value:
            credentials, _project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        else:
            info = json.loads(value) if value.lstrip().startswith("{") else json.loads(Path(value).read_text())
            credentials = credentials_from_info(info)
    except (google.auth.exceptions.GoogleAuthError, ValueError, OSError) as exc:
        where = "VERTEX_CREDENTIALS" if value else "VERTEX_CREDENTIALS (unset, so Application Default Credentials)"
        problem = str(exc)[:300] if not value or not value.lstrip().startswith("{") else type(exc).__name__
        raise ConfigurationError(
            "VERTEX_CREDENTIALS",
            f"gave no usable Google credentials ({problem}); set {where.split(' ')[0]} to the path or JSON of a "
            "service-account key or a workload identity federation config, or configure ADC",
        ) from None
    return credentials


def credentials_from_info(info: Any) -> Any:
    """Credentials of the two kinds VERTEX_CREDENTIALS may hold, loaded by their own loaders (never a generic one that
    would also run an executable or read an arbitrary file a config names)."""
    from google.auth import identity_pool
    from google.oauth2 import service_account

    kind = info.get("type") if isinstance(info, dict) else None
    if kind == "service_account":
        return service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM_SCOPE])
    if kind == "external_account":
        return identity_pool.Credentials.from_info(info, scopes=[CLOUD_PLATFORM_SCOPE])
    raise ValueError(f'type must be "service_account" or "external_account", got {str(kind)[:40]!r}')


class GoogleTokenAuth:
    """`Authorization: Bearer` from google-auth credentials, built lazily and refreshed before the token expires."""

    def __init__(
        self,
        credentials: Any | Callable[[], Any],
        *,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ):
        self._credentials = credentials
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0
        self._seen: list[str] = []
        self._request = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def token(self) -> str:
        """The cached token, or a fresh one when none is cached or it expires within the refresh margin."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_on - self._refresh_margin:
                self._token, self._expires_on = self._refresh()
                self._seen = [*self._seen[-3:], self._token]
            return self._token

    def invalidate(self) -> bool:
        """Forget the token (Google refused it) so the next request refreshes."""
        with self._lock:
            self._token = None
        return True

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._seen)

    def _refresh(self) -> tuple[str, float]:
        import google.auth.exceptions
        import google.auth.transport.requests

        if callable(self._credentials) and not hasattr(self._credentials, "refresh"):
            self._credentials = self._credentials()
        credentials = self._credentials
        if self._request is None:
            self._request = google.auth.transport.requests.Request()
        try:
            credentials.refresh(self._request)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise ProviderAuthenticationError(
                f"Could not get a Google access token ({type(exc).__name__}): {redact(str(exc), self._seen)[:500]}. "
                "Check VERTEX_CREDENTIALS (or Application Default Credentials) and that the identity has the "
                f"'Vertex AI User' role. {retry_advice(False)}",
                operation="authenticate",
            ) from None
        token = getattr(credentials, "token", None)
        if not isinstance(token, str) or not token:
            raise ProviderAuthenticationError(
                f"The Google credentials returned no access token. {retry_advice(False)}", operation="authenticate"
            )
        expiry = getattr(credentials, "expiry", None)  # google-auth: a naive UTC datetime, or None
        expires_on = expiry.replace(tzinfo=UTC).timestamp() if expiry is not None else self._clock()
        return token, expires_on

    def __repr__(self) -> str:
        return "GoogleTokenAuth(scope=cloud-platform)"
