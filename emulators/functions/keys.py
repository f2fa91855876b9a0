"""Function keys for local runs: the same levels as Azure (anonymous, function, admin) and system keys.

Keys come from, in order: the settings FUNCTIONS_MASTER_KEY / FUNCTIONS_DEFAULT_KEY (environment or
local.settings.json Values), then the keys file (default DIR/.soraflow/keys.json, created with random keys on
first start). A caller presents a key as `?code=` or the `x-functions-key` header, as in Azure.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

MASTER_KEY_SETTING = "FUNCTIONS_MASTER_KEY"
DEFAULT_KEY_SETTING = "FUNCTIONS_DEFAULT_KEY"
DURABLE_SYSTEM_KEY = "durabletask_extension"
BLOBS_SYSTEM_KEY = "blobs_extension"


@dataclass
class HostKeys:
    """The host's keys and the check `allows(level, function, presented)`."""

    master: str
    function_keys: dict[str, str]
    system_keys: dict[str, str]
    per_function: dict[str, dict[str, str]] = field(default_factory=dict)
    enforced: bool = True

    @property
    def default(self) -> str:
        return self.function_keys["default"]

    @classmethod
    def load(cls, path: Path, *, enforced: bool = True, environ: dict[str, str] | None = None) -> HostKeys:
        """Read (or create) the keys file, then apply the key settings on top."""
        environ = os.environ if environ is None else environ
        document: dict = {}
        if path.exists():
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        changed = not path.exists()
        master = document.get("masterKey") or _new_key()
        function_keys = dict(document.get("functionKeys") or {})
        system_keys = dict(document.get("systemKeys") or {})
        for name, keys in ((None, function_keys), (DURABLE_SYSTEM_KEY, system_keys), (BLOBS_SYSTEM_KEY, system_keys)):
            slot = name or "default"
            if not keys.get(slot):
                keys[slot] = _new_key()
                changed = True
        per_function = {name.lower(): dict(keys) for name, keys in (document.get("functions") or {}).items()}
        if changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            stored = {
                "masterKey": master,
                "functionKeys": function_keys,
                "systemKeys": system_keys,
                "functions": document.get("functions") or {},
            }
            path.write_text(json.dumps(stored, indent=2) + "\n", encoding="utf-8")
        if environ.get(MASTER_KEY_SETTING):
            master = environ[MASTER_KEY_SETTING]
        if environ.get(DEFAULT_KEY_SETTING):
            function_keys["default"] = environ[DEFAULT_KEY_SETTING]
        return cls(master, function_keys, system_keys, per_function, enforced)

    def allows(self, level: str, function_name: str | None, presented: str | None) -> bool:
        """Does a caller presenting this key get in at this authLevel (ANONYMOUS, FUNCTION, ADMIN)?"""
        level = (level or "FUNCTION").upper()
        if not self.enforced or level == "ANONYMOUS":
            return True
        if not presented:
            return False
        if _same(presented, self.master):
            return True
        if level == "ADMIN":
            return False
        candidates = list(self.function_keys.values())
        candidates += list(self.per_function.get((function_name or "").lower(), {}).values())
        return any(_same(presented, key) for key in candidates)

    def allows_system(self, system: str, presented: str | None) -> bool:
        """The extension webhooks take their system key (or the master key)."""
        if not self.enforced:
            return True
        return bool(presented) and (_same(presented, self.master) or _same(presented, self.system_keys[system]))


def presented_key(headers, query) -> str | None:
    """The key a caller presents: the `x-functions-key` header, else `?code=` (Azure: the header takes precedence)."""
    if "x-functions-key" in headers:
        return headers.get("x-functions-key")
    return query.get("code")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _new_key() -> str:
    return secrets.token_urlsafe(30)
