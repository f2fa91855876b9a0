"""The README's first command: `./dev.sh run` (python -m emulators.stack) generates a video end to end."""

import subprocess
import sys

from emulators import processes
from tests.media import probe


def run_stack(tmp_path, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "emulators.stack", "--work", str(tmp_path), "--time-scale", "0.02",
            "--port", str(processes.free_port()), *args]  # fmt: skip
    return subprocess.run(argv, cwd=processes.REPO_ROOT, capture_output=True, text=True, timeout=240, check=False)


def test_the_run_command_lands_a_video_and_says_where(tmp_path):
    result = run_stack(tmp_path, "--remix", "now at night")

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for stage in ("submitting", "completed"):
        assert stage in out
    run_id = out.split("Submitted run ", 1)[1].split(":", 1)[0]
    assert f"videos/runs/{run_id}/video.mp4" in out
    assert f"videos/runs/{run_id}/remix/video.mp4" in out
    assert f"videos/runs/{run_id}/run.json" in out
    copies = tmp_path / "out" / run_id
    media = probe(copies / "video.mp4")
    assert (media.video_codec, media.width, media.height, media.audio_codec) == ("h264", 1280, 720, "aac")
    assert (copies / "remix" / "video.mp4").stat().st_size > 0
    assert (copies / "run.json").read_text().count('"completed"') >= 1
    assert "Stopped the stack" in out


def test_a_refused_request_is_reported_and_fails_the_command(tmp_path):
    result = run_stack(tmp_path, "--seconds", "5")  # Sora 2 takes 4, 8 or 12

    assert result.returncode == 1
    assert "the app refused the request (400)" in result.stdout
    assert "seconds" in result.stdout
