"""How requests prove who we are: an `api-key` header, or an Entra bearer token cached until shortly before expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from soraflow.providers.errors import ProviderAuthenticationError, redact, retry_advice

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"

# Fetch a fresh token this long before the cached one expires, so no request ever carries a token that dies in
# flight (Azure tokens live 60-90 minutes; azure-identity itself refreshes 5 minutes early).
REFRESH_MARGIN_SECONDS = 300.0


class TokenCredential(Protocol):
    """What azure-identity credentials offer: `get_token(scope)` returning an object with `.token`, `.expires_on`."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


class Auth(Protocol):
    """Headers that authenticate one request, and the secrets that must never appear in a message."""

    def headers(self) -> dict[str, str]: ...

    def invalidate(self) -> bool: ...

    def secrets(self) -> tuple[str, ...]: ...


class ApiKeyAuth:
    """The `api-key` header (Azure OpenAI keys, the local emulator, most gateways)."""

    def __init__(self, key: str):
        self._key = key

    def headers(self) -> dict[str, str]:
        return {"api-key": self._key}

    def invalidate(self) -> bool:
        """A key cannot be refreshed: a 401 with it is final."""
        return False

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)

    def __repr__(self) -> str:
        return "ApiKeyAuth(key=[redacted])"


class BearerTokenAuth:
    """An Entra ID bearer token from a credential, fetched lazily, cached, and refreshed before it expires."""

    def __init__(
        self,
        credential: TokenCredential | Callable[[], TokenCredential],
        *,
        scope: str = COGNITIVE_SERVICES_SCOPE,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ):
        # A factory defers building DefaultAzureCredential (and its environment probing) until the first call.
        self._credential = credential
        self._scope = scope
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0
        self._seen: list[str] = []

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def token(self) -> str:
        """The cached token, or a new one when none is cached or the cached one is within the refresh margin."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_on - self._refresh_margin:
                self._token, self._expires_on = self._fetch()
                self._seen = [*self._seen[-3:], self._token]
            return self._token

    def invalidate(self) -> bool:
        """Drop the cached token (the provider refused it) so the next request fetches a new one."""
        with self._lock:
            self._token = None
        return True

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._seen)

    def _fetch(self) -> tuple[str, float]:
        credential = self._credential
        if not hasattr(credential, "get_token"):
            credential = self._credential = credential()
        try:
            access = credential.get_token(self._scope)
        except Exception as exc:
            # azure-identity raises ClientAuthenticationError / CredentialUnavailableError; their messages name
            # the credential sources tried, never a secret, but scrub any token we hold anyway.
            raise ProviderAuthenticationError(
                f"Could not get an Entra token for {self._scope} ({type(exc).__name__}): "
                f"{redact(str(exc), self._seen)[:500]}. Set SORA_API_KEY, or give the app's identity the "
                f"'Cognitive Services OpenAI User' role (AZURE_CLIENT_ID for a user-assigned identity). "
                + retry_advice(False),
                operation="authenticate",
            ) from None
        token = getattr(access, "token", None)
        expires_on = getattr(access, "expires_on", None)
        if not isinstance(token, str) or not token:
            raise ProviderAuthenticationError(
                f"The credential returned no token for {self._scope}. {retry_advice(False)}", operation="authenticate"
            )
        if isinstance(expires_on, bool) or not isinstance(expires_on, int | float):
            expires_on = self._clock()  # unknown lifetime: use it for this request, fetch again next time
        return token, float(expires_on)

    def __repr__(self) -> str:
        return f"BearerTokenAuth(scope={self._scope!r})"


def default_credential(client_id: str | None = None) -> TokenCredential:
    """The app's identity: a user-assigned managed identity when `client_id` is set, else DefaultAzureCredential."""
    # Imported here so importing soraflow never loads azure-identity's machinery or probes the environment.
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if client_id:
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential()
