"""The `soraflow` command as a person runs it: a subprocess against the app on the local host with Azurite, the Sora
emulator and the fal emulator; videos are probed, exit codes and output read as a script would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from emulators import processes
from tests.e2e.conftest import FUNCTION_KEY, TIME_SCALE
from tests.e2e.fal_app import FalApp, fal_app
from tests.media import probe

# The stages a run moves through, in order; the CLI's progress lines must follow it.
STAGE_ORDER = ["queued", "waiting_for_capacity", "submitting", "generating", "downloading", "remixing", "completed"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, azurite_connection_string: str) -> Iterator[FalApp]:
    with fal_app(tmp_path_factory.mktemp("cli-e2e"), azurite_connection_string) as started:
        yield started


def cli_env(stack: FalApp) -> dict[str, str]:
    return {**os.environ, "SORAFLOW_URL": stack.app.url, "SORAFLOW_KEY": FUNCTION_KEY}


def soraflow(stack: FalApp, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`soraflow ARGV` with the app's URL and key from the environment, as a person would configure it."""
    return subprocess.run([sys.executable, "-m", "soraflow_client", *argv], cwd=processes.REPO_ROOT,
                          env=cli_env(stack), capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def test_generate_and_wait_downloads_a_playable_mp4_with_progress_lines_in_order(stack, tmp_path):
    result = soraflow(stack, "generate", "A paper kite over a windy beach", "--seconds", "4", "--size", "1280x720",
                      "--wait", "--out", str(tmp_path))  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    stages = [line.split()[0] for line in result.stderr.splitlines()]
    # A render here takes under a second, so which middle stages a poll catches varies; their order may not.
    assert stages[-1] == "completed" and len(stages) >= 2
    assert [STAGE_ORDER.index(stage) for stage in stages] == sorted(STAGE_ORDER.index(stage) for stage in stages)
    videos = list(tmp_path.glob("run-*-video.mp4"))
    assert len(videos) == 1 and f"saved {videos[0]}" in result.stdout
    media = probe(videos[0])
    assert (media.video_codec, media.width, media.height) == ("h264", 1280, 720)
    assert media.duration == pytest.approx(4, abs=0.3)
    assert list(tmp_path.glob("run-*-thumbnail.*"))


def test_json_prints_only_the_final_run_resource_even_for_a_fal_model(stack):
    result = soraflow(stack, "generate", "a lighthouse at dusk", "--model", "fal-ai/veo3.1", "--seconds", "4",
                      "--size", "1280x720", "--wait", "--json")  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "completed"
    assert run["provider"]["job_id"].startswith("fal-ai/veo3.1::")
    assert result.stderr == ""


def test_a_request_the_model_refuses_exits_2_with_the_field_named_and_starts_nothing(stack):
    before = len(stack.app.sora_requests(operation="create"))

    result = soraflow(stack, "generate", "a kite", "--model", "sora-2", "--seconds", "5")

    assert result.returncode == 2
    assert result.stderr.startswith("error: seconds")
    assert result.stdout == ""
    assert len(stack.app.sora_requests(operation="create")) == before


def test_a_run_the_provider_blocks_exits_1_with_its_error(stack):
    result = soraflow(stack, "generate", "a kite [moderation]", "--wait")

    assert result.returncode == 1, result.stdout + result.stderr
    assert " failed: " in result.stdout and "moderation" in result.stdout


def test_an_app_that_does_not_answer_exits_3(stack):
    result = soraflow(stack, "--url", f"http://127.0.0.1:{processes.free_port()}", "list")

    assert result.returncode == 3
    assert "cannot reach soraflow" in result.stderr


def test_a_finished_run_can_be_read_listed_downloaded_remixed_and_deleted(stack, tmp_path):
    run = stack.app.run(prompt="A red panda making latte art", seconds="4")
    run_id = run["id"]

    status = soraflow(stack, "status", run_id)
    assert status.returncode == 0 and "completed" in status.stdout and "latte art" in status.stdout
    listed = soraflow(stack, "list", "--status", "completed", "--limit", "50", "--json")
    assert run_id in [item["id"] for item in json.loads(listed.stdout)]
    thumbnail = soraflow(stack, "download", run_id, "--variant", "thumbnail", "--out", str(tmp_path))
    assert thumbnail.returncode == 0, thumbnail.stderr
    assert next(tmp_path.glob(f"{run_id}-thumbnail.*")).stat().st_size > 0
    remixed = soraflow(stack, "remix", run_id, "the same, at night", "--wait", "--json")
    assert remixed.returncode == 0, remixed.stderr
    assert json.loads(remixed.stdout)["status"] == "completed"
    deleted = soraflow(stack, "delete", run_id)
    assert deleted.returncode == 0, deleted.stderr
    gone = soraflow(stack, "status", run_id)
    assert gone.returncode == 2 and f"no run {run_id}" in gone.stderr


def test_models_lists_soras_and_fals_models(stack):
    result = soraflow(stack, "models", "--json")

    assert result.returncode == 0, result.stderr
    names = {model["model"]: model["provider"] for model in json.loads(result.stdout)["data"]}
    assert names["sora-2"] == "sora" and names["fal-ai/veo3.1"] == "fal"
    table = soraflow(stack, "models")
    assert "fal-ai/veo3.1" in table.stdout and "sora-2" in table.stdout


def test_ctrl_c_while_waiting_stops_waiting_says_how_to_resume_and_leaves_the_run_running(stack, tmp_path):
    # Real-time renders for this test only: a 4 s video then takes about 40 s, long enough to interrupt.
    stack.app.sora_admin("POST", "reset", {"time_scale": 1}).raise_for_status()
    errors = tmp_path / "stderr.txt"
    try:
        with errors.open("w") as sink:
            waiting = subprocess.Popen([sys.executable, "-m", "soraflow_client", "generate", "a slow kite",
                                        "--seconds", "4", "--wait"], cwd=processes.REPO_ROOT, env=cli_env(stack),
                                       stdout=subprocess.PIPE, stderr=sink, text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while "generating" not in errors.read_text():
            assert waiting.poll() is None, errors.read_text()
            assert time.monotonic() < deadline, f"the CLI never showed the run generating: {errors.read_text()}"
            time.sleep(0.1)

        waiting.send_signal(signal.SIGINT)
        out, _ = waiting.communicate(timeout=30)

        assert waiting.returncode == 130
        run_id = out.split("Run ", 1)[1].split(":", 1)[0]
        said = errors.read_text()
        assert "goes on (it was not cancelled)" in said
        assert f"soraflow wait {run_id}" in said and f"soraflow cancel {run_id}" in said
        run = stack.app.get(run_id).json()
        assert run["status"] not in ("cancelled", "failed", "completed"), run
        cancelled = soraflow(stack, "cancel", run_id)
        assert cancelled.returncode == 0, cancelled.stderr
        ended = soraflow(stack, "wait", run_id, "--json")
        assert ended.returncode == 1 and json.loads(ended.stdout)["status"] == "cancelled"
    finally:
        stack.app.sora_admin("POST", "reset", {"time_scale": TIME_SCALE})


def test_pip_install_puts_the_soraflow_command_on_path_with_the_client_alone(stack, tmp_path):
    # A copy of just what the package needs: the build must not write into the repository.
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(processes.REPO_ROOT / "pyproject.toml", source)
    shutil.copytree(processes.REPO_ROOT / "soraflow_client", source / "soraflow_client",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
                             capture_output=True, text=True, timeout=240, check=False)  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr

    path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    listed = subprocess.run(["soraflow", "models", "--json"], cwd=tmp_path, env={**cli_env(stack), "PATH": path},
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert shutil.which("soraflow", path=path) == str(venv / "bin" / "soraflow")
    assert "sora-2" in listed.stdout
    installed = subprocess.run([str(venv / "bin" / "python"), "-c", "import soraflow"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert installed.returncode != 0 and "No module named 'soraflow'" in installed.stderr
    site_packages = next(venv.glob("lib/python*/site-packages"))
    assert not [name for name in ("soraflow", "triggers", "activities", "emulators") if (site_packages / name).exists()]
