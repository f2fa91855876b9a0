"""soraflow on the local host with fal configured beside Sora: the fal emulator, the Sora emulator, Azurite, and
PUBLIC_BASE_URL pointing fal's webhooks back at the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from emulators import processes
from tests.e2e.conftest import CALLBACK_SECRET, EMULATOR_KEY, FUNCTION_KEY, MASTER_KEY, TIME_SCALE, SoraflowClient

FAL_KEY = "e2e-fal-key-0123456789"


@dataclass
class FalApp:
    """The app (`app`, a SoraflowClient with the Sora emulator behind it) and the fal emulator."""

    app: SoraflowClient
    fal: processes.Server
    webhook_key_file: Path  # the emulator's Ed25519 signing key: tests sign replays with it

    def fal_admin(self, method: str, path: str, body: object = None) -> httpx.Response:
        return httpx.request(method, f"{self.fal.url}/_emulator/{path}", json=body, timeout=30)

    def fal_requests(self, **filters) -> list[dict]:
        response = httpx.get(f"{self.fal.url}/_emulator/requests", params=filters, timeout=30)
        response.raise_for_status()
        return response.json()["requests"]

    def fal_jobs(self) -> list[dict]:
        """The submits fal accepted: each is one paid request."""
        return [entry for entry in self.fal_requests(operation="submit") if entry["status"] == 200]


@contextmanager
def fal_app(work: Path, connection_string: str, **app_env: str) -> Iterator[FalApp]:
    """Start the emulators and the app (settings overridden by `app_env`); stop them all afterwards."""
    # A media cache each: two processes rendering into one cache could serve each other half-written files.
    sora_args = ["--time-scale", str(TIME_SCALE), "--api-key", EMULATOR_KEY, "--media-cache", str(work / "sora-media")]
    fal_args = ["--time-scale", str(TIME_SCALE), "--api-key", FAL_KEY, "--media-cache", str(work / "fal-media"),
                "--webhook-key", str(work / "fal-webhook-key.pem")]  # fmt: skip
    sora = processes.start_sora_emulator(args=sora_args, log_path=work / "sora.log")
    fal = processes.start_fal_emulator(args=fal_args, log_path=work / "fal.log")
    port = processes.free_port()
    fal_settings = {
        "TASKHUB_NAME": "soraflowfal",
        "CALLBACK_SECRET": CALLBACK_SECRET,
        "FUNCTIONS_DEFAULT_KEY": FUNCTION_KEY,
        "FUNCTIONS_MASTER_KEY": MASTER_KEY,
        "POLL_INITIAL_SECONDS": "0.5",
        "POLL_FLOOR_SECONDS": "0.25",
        "CREATE_RETRY_SECONDS": "1,1,1,1,1,1",
        "FAL_KEY": FAL_KEY,
        "FAL_QUEUE_URL": fal.url,
        "FAL_JWKS_URL": f"{fal.url}/.well-known/jwks.json",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    settings = processes.soraflow_settings(connection_string, sora.url, EMULATOR_KEY, **{**fal_settings, **app_env})
    host = processes.start_soraflow_host(work, settings, port=port, blob_poll_seconds=0.5)
    client = SoraflowClient(host.url, sora.url, connection_string, host)
    try:
        yield FalApp(client, fal, work / "fal-webhook-key.pem")
    finally:
        client.http.close()
        host.stop()
        fal.stop()
        sora.stop()
