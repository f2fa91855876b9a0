"""The reliability report judges each outcome strictly and rewrites only its own section of docs/reliability.md."""

from __future__ import annotations

from benchmarks import reliability_report as report
from benchmarks.reliability_scenarios import FAULTS, RESTARTS, Outcome, Scenario, VideoCheck

SCENARIO = Scenario("create-dropped-after", "shared", "create drops", "text to video", "completed", 1, lambda _: None)
GOOD_VIDEO = VideoCheck(bytes=10, md5_matches=True, same_as_provider=True, duration=4.0, decode_errors="")


def outcome(*, status="completed", jobs=("video_1",), videos=None, notes=()) -> Outcome:
    runs = [{"id": "run-1", "status": status, "error": None if status == "completed" else {"code": "timeout"}}]
    requests = [{"operation": "create", "job_id": job, "status": 200} for job in jobs]
    blobs = {"run-1": {"video.mp4": 10, "thumbnail.webp": 3, "run.json": 99, "provider-job.json": 40}}
    videos = {"run-1/video.mp4": GOOD_VIDEO} if videos is None else videos
    return Outcome(runs, requests, blobs, videos, 1.5, list(notes))


def test_an_outcome_matching_its_scenario_is_as_expected():
    assert report.verdict(SCENARIO, outcome()) == "as expected"
    assert outcome().bytes_stored == 13, "only output blobs count as stored bytes"


def test_a_second_paid_job_a_damaged_video_or_a_partial_blob_is_a_failure():
    assert "2 provider jobs, expected 1" in report.verdict(SCENARIO, outcome(jobs=("video_1", "video_2")))
    damaged = {"run-1/video.mp4": VideoCheck(10, True, False, 4.0, "")}
    assert "not intact" in report.verdict(SCENARIO, outcome(videos=damaged))
    assert "not intact" in report.verdict(SCENARIO, outcome(videos={}))
    assert "partial blob" in report.verdict(SCENARIO, outcome(notes=["partial blob runs/run-1/video.mp4 seen"]))
    assert "ended failed (timeout)" in report.verdict(SCENARIO, outcome(status="failed"))
    assert report.verdict(SCENARIO, RuntimeError("host did not start\nlog...")) == "error: host did not start"


def test_the_table_has_a_row_per_scenario_and_escapes_pipes():
    pipe = Scenario("x", "shared", "a | b", "text to video", "completed", 1, lambda _: None)
    text = report.table([(SCENARIO, outcome()), (pipe, RuntimeError("boom"))])
    lines = text.splitlines()
    assert len(lines) == 4
    assert "| `create-dropped-after` | create drops | text to video | completed | 1 (expected 1) |" in lines[2]
    assert "a \\| b" in lines[3] and "error: boom" in lines[3]


def test_writing_replaces_only_the_marked_section(tmp_path):
    path = tmp_path / "reliability.md"
    path.write_text(f"# Title\n\nprose above\n\n{report.START}\nold table\n{report.END}\n\nprose below\n")

    report.write(f"{report.START}\nnew table\n{report.END}", str(path))

    assert path.read_text() == f"# Title\n\nprose above\n\n{report.START}\nnew table\n{report.END}\n\nprose below\n"


def test_writing_appends_the_section_to_a_file_without_markers(tmp_path):
    path = tmp_path / "reliability.md"
    path.write_text("# Title\n")

    report.write(f"{report.START}\nrows\n{report.END}", str(path))

    assert path.read_text() == f"# Title\n\n{report.START}\nrows\n{report.END}\n"


def test_every_scenario_has_a_unique_name_and_a_known_stack():
    names = [s.name for s in (*FAULTS, *RESTARTS)]
    assert len(names) == len(set(names))
    assert {s.stack for s in (*FAULTS, *RESTARTS)} <= set(report.STACK_ENV)
