"""The identity-based connection end to end: Azurite over HTTPS with OAuth, bearer tokens, user-delegation SAS URLs.

A real Entra token cannot be had here, so a stand-in credential mints unsigned JWTs with the claims Azurite's
`--oauth basic` mode checks (issuer, audience, lifetime). Everything past the credential is the real path: the
`VIDEO_STORAGE__blobServiceUri` setting, the SDK's bearer-token policy (which refuses plain http), the user
delegation key and the SAS it signs.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emulators import processes
from soraflow.storage import BlobStore, BlobStoreError, resolve_connection

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OBJECT_ID = "11059fcc-5514-4800-b5f8-49808b9cfab6"


class StandInEntraCredential:
    """Mints the kind of token Entra would for storage (unsigned; Azurite's basic mode does not check signatures)."""

    def __init__(self, *, lifetime: int = 3600):
        self.scopes: list[tuple[str, ...]] = []
        self.lifetime = lifetime

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.scopes.append(scopes)
        now = int(time.time())
        claims = {
            "aud": "https://storage.azure.com",
            "iss": f"https://sts.windows.net/{TENANT}/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + self.lifetime,
            "oid": OBJECT_ID,
            "tid": TENANT,
        }
        token = ".".join(_b64url(json.dumps(part).encode()) for part in ({"alg": "none", "typ": "JWT"}, claims))
        return AccessToken(token + ".", now + self.lifetime)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def write_self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), so Azurite can serve HTTPS on loopback."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def https_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Azurite's blob service on HTTPS with `--oauth basic`: (blob service URL, certificate path)."""
    root = tmp_path_factory.mktemp("azurite-oauth")
    cert, key = write_self_signed_certificate(root)
    port = processes.free_port()
    executable = str(Path(processes.azurite_executable()).with_name("azurite-blob"))
    argv = [
        executable, "--silent", "--skipApiVersionCheck", "--loose",
        "--location", str(root / "data"), "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--oauth", "basic", "--cert", str(cert), "--key", str(key),
    ]  # fmt: skip
    server = processes.spawn("azurite-oauth", argv, port=port, log_path=root / "azurite.log")
    yield f"https://127.0.0.1:{port}/{processes.AZURITE_ACCOUNT}", cert
    server.stop()


@pytest.fixture
def identity_store(https_azurite, monkeypatch: pytest.MonkeyPatch) -> tuple[BlobStore, StandInEntraCredential]:
    url, cert = https_azurite
    # The storage SDK's transport (requests) trusts this bundle; nothing else about the client changes.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    connection = resolve_connection(
        env={"VIDEO_STORAGE__blobServiceUri": url, "VIDEO_STORAGE__credential": "managedidentity"}
    )
    credential = StandInEntraCredential()
    store = BlobStore(replace(connection, credential=credential), f"t{uuid.uuid4().hex[:16]}")
    return store, credential


def fetch(url: str, cert: Path, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=data)
    if data is not None:
        request.add_header("x-ms-blob-type", "BlockBlob")
    context = ssl.create_default_context(cafile=str(cert))
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_the_identity_form_streams_and_reads_with_a_bearer_token(identity_store):
    store, credential = identity_store
    body = bytes(range(256)) * 40_000  # ~10 MB: three blocks

    stored = store.upload_stream(
        "runs/id1/video.mp4", [body[i : i + 65536] for i in range(0, len(body), 65536)], content_type="video/mp4",
        expected_size=len(body), metadata={"run_id": "id1"},
    )  # fmt: skip
    store.write_manifest("id1", {"status": "completed", "video": stored.to_dict()})

    assert store.open_read("runs/id1/video.mp4").read() == body
    assert store.read_json("runs/id1/run.json")["video"]["bytes"] == len(body)
    assert credential.scopes and set(credential.scopes) == {("https://storage.azure.com/.default",)}
    assert store.connection.account_key is None


def test_a_read_url_from_an_identity_is_a_user_delegation_sas(identity_store, https_azurite):
    store, _ = identity_store
    _, cert = https_azurite
    store.upload_bytes("runs/id2/video.mp4", b"delegated bytes", content_type="video/mp4")

    url = store.read_url("runs/id2/video.mp4", ttl=dt.timedelta(minutes=5))

    query = parse_qs(urlsplit(url).query)
    assert query["skoid"] == [OBJECT_ID] and query["sktid"] == [TENANT]  # signed by a delegation key, not a key
    assert query["sp"] == ["r"] and query["spr"] == ["https"]
    assert fetch(url, cert) == (200, b"delegated bytes")
    sig = query["sig"][0]
    assert fetch(with_query(url, sig=("A" if sig[0] != "A" else "B") + sig[1:]), cert)[0] == 403
    assert fetch(url, cert, method="PUT", data=b"overwritten")[0] == 403
    assert store.open_read("runs/id2/video.mp4").read() == b"delegated bytes"


def test_the_delegation_key_is_reused_until_a_url_would_outlive_it(identity_store, https_azurite):
    store, _ = identity_store
    _, cert = https_azurite
    store.upload_bytes("runs/id3/video.mp4", b"x", content_type="video/mp4")

    def key_expiry(url: str) -> str:
        return parse_qs(urlsplit(url).query)["ske"][0]

    short = store.read_url("runs/id3/video.mp4", ttl=dt.timedelta(minutes=15))
    short_again = store.read_url("runs/id3/video.mp4", ttl=dt.timedelta(minutes=20))
    long = store.read_url("runs/id3/video.mp4", ttl=dt.timedelta(days=6))
    short_after_long = store.read_url("runs/id3/video.mp4", ttl=dt.timedelta(minutes=15))

    assert key_expiry(short) == key_expiry(short_again)
    assert key_expiry(long) != key_expiry(short)  # a one-day key cannot sign a six-day URL: a new key was fetched
    assert key_expiry(short_after_long) == key_expiry(long)
    assert all(fetch(u, cert)[0] == 200 for u in (short, short_again, long, short_after_long))


def test_an_expired_token_is_refused_and_not_worth_retrying(identity_store):
    store, _ = identity_store
    store = BlobStore(replace(store.connection, credential=StandInEntraCredential(lifetime=-120)), store.container)
    with pytest.raises(BlobStoreError) as caught:
        store.upload_bytes("runs/id4/video.mp4", b"x", content_type="video/mp4")
    assert caught.value.retryable is False
    assert "401" in caught.value.message or "403" in caught.value.message
