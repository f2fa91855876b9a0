"""The run's view: what the orchestration publishes and the run resource reads back."""

from __future__ import annotations

from soraflow.run_resource import build_run_resource
from soraflow.run_view import RUN_RESOURCE_FIELDS, RunView, overall_progress
from soraflow.runs import RunStatus

JOB = {"id": "video_1", "provider_status": "in_progress", "progress": 50}


def test_progress_is_the_providers_scaled_into_the_stage():
    assert overall_progress(RunStatus.GENERATING, JOB) == 46
    assert overall_progress(RunStatus.QUEUED, JOB) == 0
    assert overall_progress(RunStatus.DOWNLOADING, {"progress": 100}) == 98


def test_a_live_view_keeps_its_note_and_place_in_line_and_no_error():
    view = RunView.of(RunStatus.WAITING_FOR_CAPACITY, at="t", api="videos", job=None, outputs=[], note="busy",
                      queue_position=3, error={"code": "x"})  # fmt: skip
    assert (view.note, view.queue_position, view.error, view.completed_at) == ("busy", 3, None, None)


def test_a_final_view_drops_the_note_and_stamps_completion():
    view = RunView.of(RunStatus.FAILED, at="t", api="videos", job=JOB, outputs=[], note="busy",
                      error={"code": "timeout"})  # fmt: skip
    assert (view.note, view.completed_at, view.error) == (None, "t", {"code": "timeout"})
    assert view.provider == {"api": "videos", "job_id": "video_1", "status": "in_progress", "progress": 50}


def test_a_completed_run_shows_its_remix_and_delete_errors_in_the_resource():
    remix_error = {"code": "provider_failed", "message": "no", "retryable": False, "provider_code": "x"}
    delete_error = {"code": "provider_server_error", "message": "later", "retryable": True, "job_id": "video_1"}
    output = RunView.of(RunStatus.COMPLETED, at="t", api="videos", job=JOB, outputs=[], remix_error=remix_error,
                        delete_error=delete_error).to_dict()  # fmt: skip
    resource = build_run_resource({"instanceId": "run-x1234567", "runtimeStatus": "Completed", "output": output})
    assert resource["status"] == "completed" and resource["error"] is None
    assert resource["remix_error"] == remix_error and resource["delete_error"] == delete_error
    assert set(RUN_RESOURCE_FIELDS) <= set(resource)
