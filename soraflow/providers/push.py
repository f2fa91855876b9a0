"""Completion pushed by a provider: what a verified delivery says, and the refusal of one that is not provably the
provider's. A plug-in that can push offers `webhook_verifier(settings)`; `POST /api/webhooks/{provider}` uses it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


class WebhookRefused(Exception):
    """A delivery that is not provably from the provider (bad or missing signature, stale timestamp, body that does
    not match); the message says which, `header` names what was wrong."""

    def __init__(self, reason: str, *, header: str = "signature"):
        super().__init__(reason)
        self.header = header


@dataclass(frozen=True)
class PushedUpdate:
    """A verified delivery: the provider's request id, its status as the provider says it, and its error, if any."""

    request_id: str
    status: str
    error: str | None = None


class WebhookVerifier(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes) -> PushedUpdate: ...
