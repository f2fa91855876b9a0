"""Where the video storage account is and how to reach it, read from a setting prefix like the Functions host does.

`VIDEO_STORAGE` holds a connection string (`UseDevelopmentStorage=true`, or a full one), or identity-based settings
`VIDEO_STORAGE__accountName` / `__blobServiceUri` / `__serviceUri` (and `__tableServiceUri` for the run index) with
`__credential` and `__clientId` name the account and the managed identity. Nothing is read before `resolve_connection`
is called.
"""

from __future__ import annotations

import binascii
import os
import re
from base64 import b64decode
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from soraflow.errors import ConfigurationError, shown_url

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient

DEFAULT_SETTING = "VIDEO_STORAGE"

# The emulator's well-known development account (public, documented by Microsoft; not a secret).
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEV_BLOB_URL = f"http://127.0.0.1:10000/{DEV_ACCOUNT_NAME}"
DEV_TABLE_URL = f"http://127.0.0.1:10002/{DEV_ACCOUNT_NAME}"

ACCOUNT_PARTS = "AccountName/EndpointSuffix"
_ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")


@dataclass(frozen=True)
class StorageConnection:
    """Where the blob service is and how to authenticate to it, resolved from a setting prefix."""

    setting: str
    account_url: str
    account_name: str
    account_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    credential: Any = None  # a TokenCredential when the connection is identity-based
    client_id: str | None = None
    table_url: str | None = None  # None when the settings name no table endpoint (a blob-only SAS, a blob URI)

    @property
    def uses_identity(self) -> bool:
        return self.credential is not None

    def create_service_client(self, **options: Any) -> BlobServiceClient:
        """A BlobServiceClient for this connection (no network until it is used)."""
        # The SDKs are imported on first use: they are most of what importing the app would otherwise cost.
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(self.account_url, credential=self._credential(), **options)

    def create_table_service_client(self, **options: Any) -> TableServiceClient:
        """A TableServiceClient on the same account and credential (no network until it is used)."""
        if self.table_url is None:
            if self.uses_identity:
                problem = f"names no table endpoint: set {self.setting}__tableServiceUri or {self.setting}__accountName"
            else:
                problem = "is a connection string without TableEndpoint or AccountName, which the run index needs"
            raise ConfigurationError(self.setting, problem)
        from azure.data.tables import TableServiceClient

        return TableServiceClient(self.table_url, credential=self._credential(), **options)

    def _credential(self) -> Any:
        from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential

        if self.credential is not None:
            return self.credential
        if self.account_key is not None:
            return AzureNamedKeyCredential(self.account_name, self.account_key)
        return AzureSasCredential(self.sas_token or "")


def resolve_connection(setting: str = DEFAULT_SETTING, env: Mapping[str, str] | None = None) -> StorageConnection:
    """Read the connection named by `setting` (a connection string, or `{setting}__...` identity settings)."""
    env = os.environ if env is None else env
    raw = _lookup(env, setting)
    if raw is not None and raw[1].strip():
        return _from_connection_string(raw[0], raw[1])
    identity = _identity_settings(env, setting)
    if identity:
        return _from_identity(setting, identity)
    raise ConfigurationError(
        setting,
        f"is not set: give a storage connection string in {setting}, or an identity-based connection in "
        f"{setting}__accountName or {setting}__blobServiceUri",
    )


def _lookup(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    # The Functions host reads settings case-insensitively; Linux environments are case-sensitive, so match by hand.
    if name in env:
        return name, env[name]
    wanted = name.lower()
    for key, value in env.items():
        if key.lower() == wanted:
            return key, value
    return None


def _identity_settings(env: Mapping[str, str], setting: str) -> dict[str, tuple[str, str]]:
    prefix = f"{setting}__".lower()
    found = {}
    for key, value in env.items():
        if key.lower().startswith(prefix) and value.strip():
            found[key[len(prefix) :].lower()] = (key, value.strip())
    return found


def _from_connection_string(setting: str, raw: str) -> StorageConnection:
    # Never echo the value: it holds the account key.
    parts: dict[str, str] = {}
    for item in raw.strip().split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                setting, "is not a valid storage connection string (expected Key=Value pairs separated by ';')"
            )
        parts[key.strip().lower()] = value.strip()
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return StorageConnection(
            setting, DEV_BLOB_URL, DEV_ACCOUNT_NAME, account_key=DEV_ACCOUNT_KEY, table_url=DEV_TABLE_URL
        )
    if "usedevelopmentstorage" in parts:
        raise ConfigurationError(setting, "has UseDevelopmentStorage set to something other than true")
    name = parts.get("accountname") or None
    if parts.get("blobendpoint"):
        url = _validate_url(setting, parts["blobendpoint"], part="BlobEndpoint")
    elif name:
        url = _validate_url(setting, _account_endpoint(setting, parts, "blob"), part=ACCOUNT_PARTS)
    else:
        raise ConfigurationError(setting, "is a connection string without AccountName or BlobEndpoint")
    table_url = None
    if parts.get("tableendpoint"):
        table_url = _validate_url(setting, parts["tableendpoint"], part="TableEndpoint")
    elif name:
        table_url = _validate_url(setting, _account_endpoint(setting, parts, "table"), part=ACCOUNT_PARTS)
    key = parts.get("accountkey") or None
    sas = (parts.get("sharedaccesssignature") or "").lstrip("?") or None
    if key:
        if not name:
            raise ConfigurationError(setting, "has an AccountKey but no AccountName")
        try:
            b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(setting, "has an AccountKey that is not valid base64") from None
        return StorageConnection(setting, url, name, account_key=key, table_url=table_url)
    if sas:
        return StorageConnection(setting, url, name or _account_from_url(url), sas_token=sas, table_url=table_url)
    raise ConfigurationError(setting, "is a connection string with neither AccountKey nor SharedAccessSignature")


def _account_endpoint(setting: str, parts: dict[str, str], service: str) -> str:
    protocol = parts.get("defaultendpointsprotocol", "https").lower()
    if protocol not in ("http", "https"):
        raise ConfigurationError(setting, f"has DefaultEndpointsProtocol {protocol!r}; use https or http")
    suffix = parts.get("endpointsuffix") or "core.windows.net"
    return f"{protocol}://{parts['accountname']}.{service}.{suffix}"


def _from_identity(setting: str, values: dict[str, tuple[str, str]]) -> StorageConnection:
    uri = values.get("blobserviceuri") or values.get("serviceuri")
    account = values.get("accountname")
    if uri:
        url = _validate_url(uri[0], uri[1])
        if not url.startswith("https://"):
            # azure-core refuses to send a bearer token over plain http, so fail here with the setting's name.
            message = f"must be an https URL for an identity-based connection, got {shown_url(url)}"
            raise ConfigurationError(uri[0], message)
        account_name = account[1] if account else _account_from_url(url)
    elif account:
        if not _ACCOUNT_NAME.fullmatch(account[1]):
            raise ConfigurationError(
                account[0], f"must be a storage account name (3-24 lowercase letters and digits), got {account[1]!r}"
            )
        account_name = account[1]
        url = f"https://{account_name}.blob.core.windows.net"
    else:
        raise ConfigurationError(
            f"{setting}__accountName",
            f"is not set: an identity-based connection needs {setting}__accountName or {setting}__blobServiceUri",
        )
    table_url = _identity_table_url(values, account)
    client_id = values["clientid"][1] if "clientid" in values else None
    credential = _identity_credential(setting, values, client_id)
    return StorageConnection(
        setting, url, account_name, credential=credential, client_id=client_id, table_url=table_url
    )


def _identity_table_url(values: dict[str, tuple[str, str]], account: tuple[str, str] | None) -> str | None:
    """The table endpoint: `__tableServiceUri`, else the account's public one, else none (blob URI alone)."""
    uri = values.get("tableserviceuri")
    if uri:
        url = _validate_url(uri[0], uri[1])
        if not url.startswith("https://"):
            message = f"must be an https URL for an identity-based connection, got {shown_url(url)}"
            raise ConfigurationError(uri[0], message)
        return url
    if account and _ACCOUNT_NAME.fullmatch(account[1]):
        return f"https://{account[1]}.table.core.windows.net"
    return None


def _identity_credential(setting: str, values: dict[str, tuple[str, str]], client_id: str | None) -> Any:
    # Imported here so that importing this module never loads the identity stack.
    from azure.identity import ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential

    kind = values["credential"][1].lower() if "credential" in values else None
    if kind == "managedidentity":
        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    if kind is not None:
        raise ConfigurationError(
            values["credential"][0], f"must be 'managedidentity' (or unset), got {values['credential'][1]!r}"
        )
    # Like the host: a tenant, client id and secret mean a service principal (local development against Azure).
    if "clientsecret" in values:
        if not client_id or "tenantid" not in values:
            raise ConfigurationError(
                values["clientsecret"][0], f"needs {setting}__tenantId and {setting}__clientId beside it"
            )
        return ClientSecretCredential(values["tenantid"][1], client_id, values["clientsecret"][1])
    if client_id:
        return DefaultAzureCredential(managed_identity_client_id=client_id)
    return DefaultAzureCredential()


def _validate_url(setting: str, value: str, *, part: str | None = None) -> str:
    subject = f"has a {part} that" if part else "value"
    value = value.strip()
    try:
        parsed = urlsplit(value)
        ok = parsed.scheme in ("http", "https") and bool(parsed.hostname) and not parsed.query and not parsed.fragment
    except ValueError:
        ok = False
    if not ok:
        shown = "" if part else f": {shown_url(value)}"
        raise ConfigurationError(setting, f"{subject} is not an http(s) URL without query or fragment{shown}")
    return value.rstrip("/")


def _account_from_url(url: str) -> str:
    parsed = urlsplit(url)
    host = parsed.hostname or ""
    # Emulators and IP-style URLs carry the account in the path (http://127.0.0.1:10000/devstoreaccount1).
    if host in ("localhost",) or re.fullmatch(r"[0-9.]+|\[?[0-9a-fA-F:]+\]?", host):
        return parsed.path.strip("/").split("/")[0]
    return host.split(".")[0]
