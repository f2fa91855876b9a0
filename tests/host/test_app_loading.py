"""Starting the host on broken app folders fails fast with a message that names the problem."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from emulators import processes

GOOD_APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello")
def hello(req: func.HttpRequest) -> str:
    return "hi"
"""


def run_host(app_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "emulators.functions", "--app-dir", str(app_dir)]
    argv += ["--port", str(processes.free_port()), "--state", str(app_dir / "state.sqlite3")]
    argv += ["--keys-file", str(app_dir / "keys.json"), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=processes.REPO_ROOT)


def test_a_folder_without_function_app_py_is_refused(tmp_path: Path):
    result = run_host(tmp_path)
    assert result.returncode == 1
    assert "function_app.py not found" in result.stdout


def test_an_app_that_fails_to_import_is_refused_with_the_error(tmp_path: Path):
    (tmp_path / "function_app.py").write_text("import azure.functions as func\nraise RuntimeError('broken import')\n")
    result = run_host(tmp_path)
    assert result.returncode == 1
    assert "RuntimeError: broken import" in result.stdout


def test_an_unresolved_setting_in_host_json_names_the_setting(tmp_path: Path):
    (tmp_path / "function_app.py").write_text(GOOD_APP)
    (tmp_path / "host.json").write_text('{"version": "2.0", "extensions": {"durableTask": {"hubName": "%NOPE%"}}}')
    result = run_host(tmp_path)
    assert result.returncode == 1
    assert "'%NOPE%' does not resolve to a value (set NOPE)" in result.stdout


def test_malformed_settings_files_are_refused(tmp_path: Path):
    (tmp_path / "function_app.py").write_text(GOOD_APP)
    (tmp_path / "local.settings.json").write_text("{not json")
    result = run_host(tmp_path)
    assert result.returncode == 1
    assert "local.settings.json: not valid JSON" in result.stdout
    (tmp_path / "local.settings.json").write_text('{"Values": {}}')
    (tmp_path / "host.json").write_text('{"extensions": {"durableTask": {"maxConcurrentActivityFunctions": 0}}}')
    result = run_host(tmp_path)
    assert "maxConcurrentActivityFunctions must be a positive integer" in result.stdout


def test_a_module_without_an_app_object_is_refused(tmp_path: Path):
    (tmp_path / "function_app.py").write_text("import azure.functions as func\n")
    result = run_host(tmp_path)
    assert result.returncode == 1
    assert "defines no app" in result.stdout


def test_a_port_in_use_is_reported(tmp_path: Path):
    (tmp_path / "function_app.py").write_text(GOOD_APP)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_host(tmp_path, "--port", str(taken.getsockname()[1]))
    assert result.returncode == 1
    assert "Cannot start the host" in result.stdout
