"""Shared fixtures: real Azurite and the real Sora emulator on loopback, started once and stopped after."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators import processes


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    """Azurite on free loopback ports with a temporary data folder; `.extra['connection_string']`."""
    root = tmp_path_factory.mktemp("azurite")
    server = processes.start_azurite(root / "data", log_path=root / "azurite.log")
    yield server
    # Azurite waits for idle keep-alive clients before exiting on SIGTERM; its data is disposable here.
    server.stop(timeout=2)


@pytest.fixture(scope="session")
def azurite_connection_string(azurite: processes.Server) -> str:
    return azurite.extra["connection_string"]


SORA_EMULATOR_KEY = "test-emulator-key"


@pytest.fixture(scope="session")
def sora_emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    """One Sora emulator for the session, fast renders, requiring SORA_EMULATOR_KEY."""
    root = tmp_path_factory.mktemp("sora")
    server = processes.start_sora_emulator(
        args=["--time-scale", "0.02", "--api-key", SORA_EMULATOR_KEY, "--media-cache", str(root / "media")],
        log_path=root / "sora.log",
    )
    yield server
    server.stop()


@pytest.fixture
def sora_emulator(sora_emulator_server: processes.Server) -> processes.Server:
    """The session's Sora emulator, reset (jobs, faults, request log) before each test."""
    request = urllib.request.Request(f"{sora_emulator_server.url}/_emulator/reset", data=b"{}", method="POST")
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        json.load(response)
    return sora_emulator_server


@pytest.fixture
def repo_root() -> Path:
    return processes.REPO_ROOT
