from soraflow.run_resource import build_run_resource

RUN_INPUT = {
    "run_id": "run-abc12345",
    "request": {"prompt": "a red panda", "size": "720x1280", "seconds": 4},
    "cost": {"estimated_usd": 0.4, "seconds": 4},
    "created_at": "2026-01-01T00:00:00+00:00",
}


def instance(runtime, custom=None, output=None, **extra):
    return {
        "instanceId": "run-abc12345",
        "runtimeStatus": runtime,
        "input": RUN_INPUT,
        "customStatus": custom,
        "output": output,
        "createdTime": "2026-01-01T00:00:00Z",
        "lastUpdatedTime": "2026-01-01T00:01:00Z",
        **extra,
    }


def test_pending_run_is_queued_with_its_request_and_cost():
    resource = build_run_resource(instance("Pending"))
    assert resource["status"] == "queued"
    assert resource["progress"] == 0
    assert resource["request"] == RUN_INPUT["request"]
    assert resource["cost"] == {"estimated_usd": 0.4, "seconds": 4}
    assert resource["error"] is None and resource["completed_at"] is None


def test_running_run_shows_stage_progress_and_provider():
    provider = {"api": "videos", "job_id": "video_1", "status": "in_progress", "progress": 50}
    custom = {"status": "generating", "progress": 46, "provider": provider, "updated_at": "2026-01-01T00:00:30+00:00"}
    resource = build_run_resource(instance("Running", custom))
    assert (resource["status"], resource["progress"]) == ("generating", 46)
    assert resource["provider"]["job_id"] == "video_1"
    assert resource["updated_at"] == "2026-01-01T00:00:30+00:00"


def test_queue_position_shows_while_in_a_line_soraflows_or_the_providers():
    waiting = build_run_resource(instance("Running", {"status": "waiting_for_capacity", "queue_position": 3}))
    assert waiting["queue_position"] == 3
    generating = build_run_resource(instance("Running", {"status": "generating", "queue_position": 2}))
    assert generating["queue_position"] == 2, "fal's own queue position while its job waits there"
    downloading = build_run_resource(instance("Running", {"status": "downloading", "queue_position": 3}))
    assert downloading["queue_position"] is None


def test_completed_run_lists_outputs_with_urls():
    output = {"status": "completed", "outputs": [{"kind": "video", "blob": "runs/run-abc12345/video.mp4"}],
              "completed_at": "2026-01-01T00:02:00+00:00"}  # fmt: skip
    resource = build_run_resource(instance("Completed", output=output), content_url=lambda o: f"/c/{o['kind']}")
    assert resource["status"] == "completed" and resource["progress"] == 100
    assert resource["outputs"] == [{"kind": "video", "blob": "runs/run-abc12345/video.mp4", "url": "/c/video"}]
    assert resource["completed_at"] == "2026-01-01T00:02:00+00:00"


def test_failed_run_carries_its_typed_error():
    error = {"code": "content_policy", "message": "blocked", "retryable": False, "provider_code": "moderation_blocked"}
    resource = build_run_resource(instance("Completed", output={"status": "failed", "error": error}))
    assert resource["status"] == "failed"
    assert resource["error"] == error


def test_terminated_instance_reads_as_cancelled():
    resource = build_run_resource(instance("Terminated", {"status": "generating"}, output="stopped by operator"))
    assert resource["status"] == "cancelled"
    assert resource["error"]["code"] == "cancelled"


def test_crashed_orchestration_reads_as_failed_with_internal_error():
    resource = build_run_resource(instance("Failed", {"status": "generating"}, output="KeyError: 'x'\nTraceback"))
    assert resource["status"] == "failed"
    assert resource["error"]["code"] == "internal_error"
    assert resource["error"]["message"] == "KeyError: 'x'"


def test_unknown_stage_text_never_crashes():
    assert build_run_resource(instance("Running", {"status": "teleporting"}))["status"] == "queued"


def test_suspended_instance_is_flagged():
    assert build_run_resource(instance("Suspended", {"status": "generating"}))["suspended"] is True
