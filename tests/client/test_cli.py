"""The `soraflow` command in-process over real HTTP against a scripted app: exit codes, output, progress lines."""

from __future__ import annotations

import io
import json
import os
import pty
import threading

import pytest

from soraflow_client.cli import main
from tests.client.conftest import run
from tests.client.test_client import PROBLEM, free_closed_port


def soraflow(api_url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--url", api_url, "--key", "k", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_refused_request_exits_2_and_prints_the_problems_detail(api):
    api.answer("POST", "/api/videos", 400, PROBLEM)

    code, out, err = soraflow(api.url, "generate", "a kite", "--seconds", "5")

    assert code == 2
    assert "seconds: must be one of 4, 8, 12" in err and out == ""


def test_a_failed_run_exits_1_and_prints_its_error(api):
    api.answer("POST", "/api/videos", 202, run("queued"))
    failed = run("failed", 40, error={"code": "moderation_blocked", "message": "blocked by moderation"})
    api.answer("GET", "/api/videos/run-abc", 200, failed)

    code, out, _ = soraflow(api.url, "generate", "a kite", "--wait")

    assert code == 1
    assert "run-abc failed: blocked by moderation (moderation_blocked)" in out


def test_progress_without_a_terminal_is_one_plain_line_per_change(api):
    api.answer("POST", "/api/videos", 202, run("queued"))
    for answer in (run("queued"), run("queued"), run("generating", 20, provider={"status": "in_progress",
                   "progress": 20}), run("completed", 100)):  # fmt: skip
        api.answer("GET", "/api/videos/run-abc", 200, answer)

    code, out, err = soraflow(api.url, "generate", "a kite", "--wait")

    assert code == 0 and "Run run-abc completed." in out
    lines = err.splitlines()
    assert [line.split()[0] for line in lines] == ["queued", "generating", "completed"]
    assert "provider in_progress 20%" in lines[1]
    assert "\x1b[" not in err  # no terminal codes in a log file


def test_json_prints_only_the_final_run_resource(api):
    api.answer("POST", "/api/videos", 202, run("queued"))
    api.answer("GET", "/api/videos/run-abc", 200, run("completed", 100))

    code, out, err = soraflow(api.url, "generate", "a kite", "--wait", "--json")

    assert code == 0 and err == ""
    assert json.loads(out)["status"] == "completed"


def test_a_malformed_metadata_pair_is_a_usage_error_and_sends_nothing(api, capsys):
    with pytest.raises(SystemExit) as exited:
        soraflow(api.url, "generate", "a kite", "--metadata", "no-equals-sign")

    assert exited.value.code == 2
    assert "--metadata takes K=V" in capsys.readouterr().err
    assert api.requests == []


def test_an_app_that_does_not_listen_exits_3():
    code, _, err = soraflow(f"http://127.0.0.1:{free_closed_port()}", "list")

    assert code == 3 and "cannot reach soraflow" in err


def test_models_lists_every_model_with_its_sizes_and_durations(api):
    api.answer("GET", "/api/models", 200, {"default_model": "sora-2", "data": [
        {"model": "sora-2", "provider": "sora", "sizes": ["1280x720", "720x1280"], "seconds": ["4", "8", "12"],
         "reference_image": {}, "remix": True, "audio": True, "price": {"usd_per_second": {"*": 0.1}}},
        {"model": "fal-ai/veo3.1", "provider": "fal", "sizes": ["1280x720"], "seconds": ["4", "6", "8"],
         "reference_image": None, "remix": False, "audio": True, "price": {"usd_per_second": {"*": 0.2, "x": 0.4}}},
    ]})  # fmt: skip

    code, out, _ = soraflow(api.url, "models")

    assert code == 0
    assert "sora-2 (default)" in out and "fal-ai/veo3.1" in out and "4, 6, 8" in out and "0.2-0.4" in out


def test_on_a_terminal_wait_draws_a_live_bar_with_stage_provider_queue_and_elapsed_time(api):
    api.answer("POST", "/api/videos", 202, run("queued"))
    for answer in (run("generating", 30, queue_position=2, provider={"status": "in_queue", "progress": 0}),
                   run("completed", 100)):  # fmt: skip
        api.answer("GET", "/api/videos/run-abc", 200, answer)
    controller, terminal = pty.openpty()
    drawn: list[bytes] = []
    reader = threading.Thread(target=read_until_closed, args=(controller, drawn), daemon=True)
    reader.start()  # read while the CLI draws, so a full terminal buffer can never block it
    with os.fdopen(terminal, "w") as screen:
        code = main(["--url", api.url, "generate", "a kite", "--wait"], stdout=io.StringIO(), stderr=screen)
    reader.join(timeout=30)
    os.close(controller)

    assert code == 0
    text = b"".join(drawn).decode(errors="replace")
    assert "━" in text  # the bar itself
    assert "generating" in text and "provider in_queue 0%" in text and "queue position 2" in text
    assert "0:00:0" in text  # the elapsed-time column


def read_until_closed(fd: int, into: list[bytes]) -> None:
    """Everything written to a pseudo-terminal, until its other end is closed (Linux then reports EIO)."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        into.append(chunk)
