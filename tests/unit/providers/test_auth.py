"""Token caching against a stand-in for Azure's identity service (which cannot run here): `get_token` only."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from soraflow.providers.auth import COGNITIVE_SERVICES_SCOPE, ApiKeyAuth, BearerTokenAuth
from soraflow.providers.errors import ProviderAuthenticationError

REPO_ROOT = Path(__file__).resolve().parents[3]


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class IssuingCredential:
    """Hands out token-1, token-2, ... each valid for `lifetime` seconds from the clock's now."""

    def __init__(self, clock: Clock, lifetime: float = 3600.0):
        self.clock = clock
        self.lifetime = lifetime
        self.scopes: list[tuple] = []

    def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        return SimpleNamespace(token=f"token-{len(self.scopes)}", expires_on=int(self.clock.now + self.lifetime))


def test_api_key_header_and_it_is_never_refreshed():
    auth = ApiKeyAuth("my-secret-key-123")
    assert auth.headers() == {"api-key": "my-secret-key-123"}
    assert auth.invalidate() is False
    assert "my-secret-key-123" not in repr(auth)


def test_bearer_token_is_fetched_once_for_the_cognitive_services_scope_and_cached():
    clock = Clock()
    credential = IssuingCredential(clock)
    auth = BearerTokenAuth(credential, clock=clock)
    assert auth.headers() == {"Authorization": "Bearer token-1"}
    clock.now += 3000
    assert auth.headers() == {"Authorization": "Bearer token-1"}
    assert credential.scopes == [(COGNITIVE_SERVICES_SCOPE,)]


def test_bearer_token_is_refreshed_five_minutes_before_expiry():
    clock = Clock()
    credential = IssuingCredential(clock)
    auth = BearerTokenAuth(credential, clock=clock)
    auth.token()
    clock.now += 3600 - 301
    assert auth.token() == "token-1"
    clock.now += 2
    assert auth.token() == "token-2"
    assert len(credential.scopes) == 2


def test_invalidate_forces_a_new_token():
    clock = Clock()
    auth = BearerTokenAuth(IssuingCredential(clock), clock=clock)
    assert auth.token() == "token-1"
    assert auth.invalidate() is True
    assert auth.token() == "token-2"
    assert set(auth.secrets()) == {"token-1", "token-2"}


def test_credential_factory_is_called_only_when_a_token_is_first_needed():
    built = []

    def factory():
        built.append(1)
        return IssuingCredential(Clock())

    auth = BearerTokenAuth(factory, clock=Clock())
    assert built == []
    auth.token()
    auth.token()
    assert built == [1]


def test_credential_failure_becomes_an_authentication_error_naming_the_fix():
    class Failing:
        def get_token(self, *scopes, **kwargs):
            raise RuntimeError("DefaultAzureCredential failed to retrieve a token from the included credentials")

    with pytest.raises(ProviderAuthenticationError) as info:
        BearerTokenAuth(Failing()).token()
    assert "SORA_API_KEY" in info.value.message
    assert "failed to retrieve a token" in info.value.message
    assert not info.value.retryable


@pytest.mark.parametrize("token", [None, "", 42])
def test_credential_returning_no_token_is_an_authentication_error(token):
    class Empty:
        def get_token(self, *scopes, **kwargs):
            return SimpleNamespace(token=token, expires_on=0)

    with pytest.raises(ProviderAuthenticationError):
        BearerTokenAuth(Empty()).token()


def test_unknown_token_lifetime_means_fetch_again_next_time():
    calls = []

    class NoExpiry:
        def get_token(self, *scopes, **kwargs):
            calls.append(1)
            return SimpleNamespace(token=f"t-{len(calls)}-long-enough", expires_on="soon")

    auth = BearerTokenAuth(NoExpiry())
    assert auth.token() == "t-1-long-enough"
    assert auth.token() == "t-2-long-enough"


def test_importing_the_providers_loads_no_identity_machinery():
    # A fresh interpreter: azure-identity (and its environment probing) loads only when a token is needed.
    code = "import sys, soraflow.providers; assert 'azure.identity' not in sys.modules, 'azure.identity imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, timeout=60)
