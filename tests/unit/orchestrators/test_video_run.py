"""The run orchestration as a specification: each behaviour of the story, driven with a scripted Durable context."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrators.run_state import RunInput, Step
from orchestrators.video_run import video_run_orchestrator
from soraflow.callbacks import CallbackDeliveryError
from soraflow.config import Settings
from soraflow.polling import DEFAULT_BOUNDS, PUSH_FALLBACK_SECONDS
from soraflow.providers.errors import ProviderExpired, ProviderRateLimited, ProviderServerError
from soraflow.providers.sora_request import parse_video_request
from soraflow.storage.blob_store import BlobStoreError as StorageError
from tests.unit.orchestrators.scripted_context import START, ScriptedContext, crash, drive
from triggers.runs import build_run_input

SETTINGS = {"SORA_ENDPOINT": "http://sora.test", "SORA_QUOTA_GATE": "false", "RUN_TIMEOUT_MINUTES": "60"}


def run_input(env: dict | None = None, **body) -> dict:
    settings = Settings.from_env({**SETTINGS, **(env or {})})
    request = parse_video_request({"prompt": "a red panda", "seconds": "4", **body}, api="videos",
                                  default_model="sora-2", allowed_containers=("video-requests",))  # fmt: skip
    data = build_run_input(settings, "run-unit-0001", request, "fingerprint")
    # The trigger stamps wall-clock times; the scripted clock starts at START.
    data["created_at"] = START.isoformat()
    data["deadline"] = (START + timedelta(minutes=settings.run_timeout_minutes)).isoformat()
    return data


class Provider:
    """Provider activities: each job renders in `polls` status calls; outputs stored unless told otherwise."""

    def __init__(self, *, polls: int = 3, store=None, expires_in: float | None = 86_400):
        self.polls = polls
        self.jobs: dict[str, int] = {}
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.store = store
        self.expires_in = expires_in
        self.fail_remix: bool = False

    def job(self, job_id: str) -> dict:
        seen = self.jobs[job_id]
        done = seen >= self.polls
        failed = done and job_id.startswith("remix") and self.fail_remix
        status = "failed" if failed else "succeeded" if done else ("running" if seen else "queued")
        expires = int(START.timestamp() + self.expires_in) if done and self.expires_in else None
        outputs = [{"api": "videos", "kind": kind, "index": 0, "source_id": job_id, "required": kind == "video"}
                   for kind in ("video", "thumbnail")]  # fmt: skip
        return {
            "api": "videos", "id": job_id, "status": status, "provider_status": status,
            "progress": min(100, int(100 * seen / self.polls)), "expires_at": expires,
            "error": {"code": "moderation_blocked", "message": "no", "content_policy": False} if failed else None,
            "outputs": outputs if status == "succeeded" else [],
        }  # fmt: skip

    def create(self, payload: dict) -> dict:
        job_id = f"video_{len(self.created) + 1}"
        self.created.append(job_id)
        self.jobs[job_id] = 0
        return self.job(job_id)

    def remix(self, payload: dict) -> dict:
        job_id = f"remix_{len(self.created) + 1}"
        self.created.append(job_id)
        self.jobs[job_id] = 0
        return self.job(job_id)

    def get(self, payload: dict) -> dict:
        self.jobs[payload["job_id"]] += 1
        return self.job(payload["job_id"])

    def store_output(self, payload: dict) -> dict:
        if self.store:
            self.store(payload)
        output = payload["output"]
        name = f"runs/{payload['run_id']}/{payload['folder']}{output['kind']}"
        return {"kind": output["kind"], "source": payload["source"], "index": 0, "blob": name,
                "content_type": "video/mp4", "bytes": 10}  # fmt: skip

    def delete(self, payload: dict) -> dict:
        self.deleted.append(payload["job_id"])
        return {"job_id": payload["job_id"], "deleted": True}

    def activities(self, **overrides) -> dict:
        return {
            "prepare_reference": lambda p: {"blob": "runs/x/reference.png"},
            "create_provider_job": self.create,
            "remix_provider_job": self.remix,
            "get_provider_job": self.get,
            "store_provider_output": self.store_output,
            "delete_provider_job": self.delete,
            "write_run_manifest": lambda p: f"runs/{p['id']}/run.json",
            "deliver_run_callback": lambda p: {"status_code": 200, "attempts": 1},
            "index_run": lambda p: None,
            "wake_waiting_runs": lambda p: {"woken": p["run_ids"], "missed": []},
            **overrides,
        }


def play(data: dict, provider: Provider, **options) -> tuple[dict | None, ScriptedContext]:
    activities = provider.activities(**options.pop("activities", {}))
    context = ScriptedContext(data, activities, **options)
    return drive(video_run_orchestrator, context), context


def play_through(data: dict, provider: Provider, **options) -> tuple[dict, list[ScriptedContext]]:
    """Play executions until one ends without continuing as new (each gets the previous one's input)."""
    contexts = []
    while True:
        result, context = play(data, provider, **dict(options))
        contexts.append(context)
        if context.continued is None:
            return result, contexts
        data = context.continued
        options["start"] = context.current_utc_datetime


# --- the happy paths ---


def test_a_run_creates_one_job_polls_it_stores_its_outputs_and_writes_the_manifest():
    provider = Provider()
    result, context = play(run_input(), provider)
    assert result["status"] == "completed" and result["progress"] == 100
    assert provider.created == ["video_1"] and provider.deleted == []
    assert context.names(but="index_run") == ["create_provider_job", *["get_provider_job"] * 3,
                                              "store_provider_output", "store_provider_output",
                                              "write_run_manifest"]  # fmt: skip
    assert [o["kind"] for o in result["outputs"]] == ["video", "thumbnail"]
    assert result["stored_job_id"] == "video_1" and result["manifest"] == "runs/run-unit-0001/run.json"
    assert context.stages() == ["queued", "submitting", "generating", "downloading"]


def test_the_run_index_is_written_at_each_change_of_status_and_at_the_end():
    _, context = play(run_input(), Provider())
    rows = [payload["run"] for name, payload in context.calls if name == "index_run"]
    assert [row["status"] for row in rows] == ["queued", "submitting", "generating", "downloading", "completed"]
    assert rows[-1]["outputs"] and rows[-1]["request"]["prompt"] == "a red panda" and rows[-1]["id"] == "run-unit-0001"
    assert context.names().index("write_run_manifest") < len(context.names()) - 1, "the final row follows run.json"


def test_a_run_index_that_cannot_be_written_never_fails_the_run_and_is_tried_again_at_the_next_publish():
    def index(payload):
        raise StorageError("the table is down")

    result, context = play(run_input(), Provider(), activities={"index_run": index})
    assert result["status"] == "completed"
    statuses = [payload["run"]["status"] for name, payload in context.calls if name == "index_run"]
    assert set(statuses) == {"queued", "submitting", "generating", "downloading", "completed"}
    assert len(statuses) > 5, "each later publish tries again while the row is behind"


def test_live_progress_never_goes_backwards():
    _, context = play(run_input(remix={"prompt": "now in watercolour"}), Provider(polls=5))
    progress = [status["progress"] for status in context.custom_statuses if status["status"] != "remixing"]
    assert progress == sorted(progress)


def test_a_chained_remix_remixes_the_stored_video_and_stores_the_remix_under_remix():
    provider = Provider()
    result, context = play(run_input(remix={"prompt": "now in watercolour"}), provider)
    assert result["status"] == "completed" and result["remix_error"] is None
    remix_call = next(payload for name, payload in context.calls if name == "remix_provider_job")
    assert remix_call["source_job_id"] == "video_1" and remix_call["prompt"] == "now in watercolour"
    assert [(o["source"], o["blob"].split("/", 2)[2]) for o in result["outputs"]] == [
        ("generation", "video"),
        ("generation", "thumbnail"),
        ("remix", "remix/video"),
        ("remix", "remix/thumbnail"),
    ]
    assert result["stored_job_id"] == "remix_2"


def test_a_remix_of_an_earlier_run_starts_from_that_runs_job():
    data = run_input()
    data["remix_of"] = {"run_id": "run-earlier-01", "job_id": "video_earlier"}
    provider = Provider()
    result, context = play(data, provider)
    assert "create_provider_job" not in context.names()
    assert next(p for n, p in context.calls if n == "remix_provider_job")["source_job_id"] == "video_earlier"
    assert {o["source"] for o in result["outputs"]} == {"remix"}


# --- creating: what is retried and how long ---


def test_a_create_refused_with_5xx_is_retried_after_each_configured_wait_then_fails():
    refusals = []

    def create(payload):
        refusals.append(1)
        raise ProviderServerError("the provider is having a moment", provider_code="server_error")

    result, context = play(run_input({"CREATE_RETRY_SECONDS": "5,10,20"}), Provider(),
                           activities={"create_provider_job": create})  # fmt: skip
    assert len(refusals) == 4 and context.timers == [5, 10, 20]
    assert result["status"] == "failed" and result["error"]["code"] == "provider_server_error"


def test_a_create_refused_with_5xx_then_accepted_makes_one_job():
    provider = Provider()
    answers = iter([ProviderServerError("down", provider_code="server_error")])

    def create(payload):
        error = next(answers, None)
        if error:
            raise error
        return provider.create(payload)

    result, context = play(run_input({"CREATE_RETRY_SECONDS": "5,10"}), provider,
                           activities={"create_provider_job": create})  # fmt: skip
    assert result["status"] == "completed" and provider.created == ["video_1"]
    assert context.timers[0] == 5


def test_a_429_keeps_waiting_with_the_last_wait_and_honours_retry_after_until_the_deadline():
    def create(payload):
        raise ProviderRateLimited("busy", provider_code="too_many_requests", retry_after=45)

    data = run_input({"CREATE_RETRY_SECONDS": "5,30", "RUN_TIMEOUT_MINUTES": "5"})
    result, context = play(data, Provider(), activities={"create_provider_job": create})
    # Each wait is at least Retry-After (45 s); a 429 is waited out past the list, until the next wait would pass
    # the 5-minute deadline.
    assert context.timers == [45.0] * 6
    assert result["status"] == "failed" and result["error"]["code"] == "timeout"
    assert result["error"]["provider_code"] == "too_many_requests"
    assert any(s["status"] == "waiting_for_capacity" and "retrying in 45 s" in s["note"]
               for s in context.custom_statuses)  # fmt: skip


def test_a_create_that_crashes_untyped_fails_the_instance_instead_of_reading_as_an_ordinary_failure():
    def create(payload):
        raise crash("TypeError: unsupported operand")

    with pytest.raises(Exception, match="TypeError"):
        play(run_input(), Provider(), activities={"create_provider_job": create})


def test_a_bug_in_the_orchestration_fails_the_instance_and_is_logged(caplog):
    provider = Provider()
    with pytest.raises(KeyError):
        play(run_input(), provider, activities={"get_provider_job": lambda p: {"id": p["job_id"]}})
    assert "the orchestration failed at step render" in caplog.text


# --- deadlines ---


def test_a_render_not_done_by_the_deadline_fails_timeout_and_deletes_the_unfinished_job():
    provider = Provider(polls=10_000)
    result, context = play(run_input({"RUN_TIMEOUT_MINUTES": "2"}), provider)
    assert result["status"] == "failed" and result["error"]["code"] == "timeout"
    assert context.current_utc_datetime >= START + timedelta(minutes=2)
    assert provider.deleted == ["video_1"]


# --- cancel during every wait ---


def cancel_at(stage: str):
    return lambda context: bool(context.custom_statuses) and context.custom_statuses[-1]["status"] == stage


def test_cancel_while_waiting_for_capacity_ends_cancelled_without_a_job():
    data = run_input({"SORA_QUOTA_GATE": "true"})
    provider = Provider()
    result, context = play(data, provider, entity=lambda op, p: {"granted": False, "position": 3},
                           cancel_when=cancel_at("waiting_for_capacity"))  # fmt: skip
    assert result["status"] == "cancelled" and provider.created == []
    assert ("release", {"run_id": "run-unit-0001", "now": pytest.approx(START.timestamp(), abs=60)}) in [
        (op, payload) for op, payload in context.entity_calls
    ]


def test_cancel_while_a_refused_create_waits_ends_cancelled():
    def create(payload):
        raise ProviderServerError("down", provider_code="server_error")

    result, _ = play(run_input(), Provider(), activities={"create_provider_job": create},
                     cancel_when=cancel_at("submitting"))  # fmt: skip
    assert result["status"] == "cancelled" and result["error"]["code"] == "cancelled"


def test_cancel_while_rendering_deletes_the_unfinished_job():
    provider = Provider(polls=50)
    result, _ = play(run_input(), provider, cancel_when=cancel_at("generating"))
    assert result["status"] == "cancelled" and provider.deleted == ["video_1"]


def test_cancel_while_storing_is_retried_keeps_the_finished_video_at_the_provider():
    def store(payload):
        raise StorageError("storage is down")

    provider = Provider(store=store)
    result, _ = play(run_input(), provider, cancel_when=cancel_at("downloading"))
    assert result["status"] == "cancelled"
    assert provider.deleted == [], "a finished, unstored video is never deleted"


def test_cancel_while_the_remix_waits_for_capacity_ends_cancelled_with_the_first_video_stored():
    grants = iter([True])
    data = run_input({"SORA_QUOTA_GATE": "true"}, remix={"prompt": "watercolour"})
    provider = Provider()
    result, _ = play(data, provider, entity=lambda op, p: {"granted": next(grants, False), "position": 1,
                                                           "lease_expires": START.timestamp() + 120},
                     cancel_when=cancel_at("waiting_for_capacity"))  # fmt: skip
    assert result["status"] == "cancelled" and provider.created == ["video_1"]
    assert [o["kind"] for o in result["outputs"]] == ["video", "thumbnail"] and provider.deleted == []


# --- continue-as-new at each stage ---


def test_a_long_wait_in_line_continues_as_new_and_resumes_waiting_without_a_second_reference():
    answers = iter([False] * 7 + [True] * 10)
    data = run_input({"SORA_QUOTA_GATE": "true", "RUN_POLLS_PER_EXECUTION": "3"},
                     input_reference={"blob": "video-requests/cat.png"})  # fmt: skip
    provider = Provider()
    entity = lambda op, p: {"granted": next(answers), "position": 2, "lease_expires": START.timestamp() + 120}  # noqa: E731
    result, contexts = play_through(data, provider, entity=entity)
    assert len(contexts) == 3 and result["status"] == "completed"
    assert [c.continued["state"]["step"] for c in contexts[:-1]] == ["capacity", "capacity"]
    assert sum(c.names().count("prepare_reference") for c in contexts) == 1
    assert provider.created == ["video_1"]


def test_a_long_render_continues_as_new_and_completes_with_one_job():
    provider = Provider(polls=10)
    result, contexts = play_through(run_input({"RUN_POLLS_PER_EXECUTION": "4"}), provider)
    assert result["status"] == "completed" and provider.created == ["video_1"]
    assert [c.continued["state"]["step"] for c in contexts[:-1]] == ["render", "render"]
    assert all(c.names().count("get_provider_job") <= 4 for c in contexts)


def test_a_long_storage_outage_continues_as_new_and_stores_everything_once_storage_is_back():
    failures = iter(range(7))

    def store(payload):
        if next(failures, None) is not None:
            raise StorageError("storage is down")

    provider = Provider(polls=1, store=store)
    result, contexts = play_through(run_input({"RUN_POLLS_PER_EXECUTION": "2", "STORE_RETRY_SECONDS": "3,6"}), provider)
    assert result["status"] == "completed" and provider.created == ["video_1"] and provider.deleted == []
    assert {c.continued["state"]["step"] for c in contexts[:-1]} == {"store"}
    assert sorted(o["kind"] for o in result["outputs"]) == ["thumbnail", "video"]


def test_the_wait_before_a_chained_remix_continues_as_new_too():
    answers = iter([True] + [False] * 5 + [True] * 10)
    data = run_input({"SORA_QUOTA_GATE": "true", "RUN_POLLS_PER_EXECUTION": "2"}, remix={"prompt": "watercolour"})
    provider = Provider(polls=1)
    entity = lambda op, p: {"granted": next(answers), "position": 1, "lease_expires": START.timestamp() + 120}  # noqa: E731
    result, contexts = play_through(data, provider, entity=entity)
    assert result["status"] == "completed" and provider.created == ["video_1", "remix_2"]
    assert [c.continued["state"]["step"] for c in contexts[:-1]] == ["remix_capacity"] * 2
    assert [o["source"] for o in result["outputs"]].count("generation") == 2, "the first video is stored once"


def test_a_long_remix_render_continues_as_new_and_resumes_rendering_the_remix():
    provider = Provider(polls=5)
    data = run_input({"RUN_POLLS_PER_EXECUTION": "3"}, remix={"prompt": "watercolour"})
    result, contexts = play_through(data, provider)
    assert result["status"] == "completed" and provider.created == ["video_1", "remix_2"]
    assert "remix_render" in [c.continued["state"]["step"] for c in contexts[:-1]]
    assert RunInput.from_dict(contexts[-1].input).state.generation_job["id"] == "video_1"


# --- never lose a paid video ---


def test_storage_down_for_longer_than_the_old_retries_is_waited_out_and_the_run_completes():
    outage = iter(range(12))

    def store(payload):
        if next(outage, None) is not None:
            raise StorageError("storage is down")

    provider = Provider(store=store)
    result, context = play(run_input({"STORE_RETRY_SECONDS": "3,6,12,24,60"}), provider)
    assert result["status"] == "completed" and provider.deleted == [] and provider.created == ["video_1"]
    assert context.names().count("store_provider_output") > 8
    assert any("storage failed (storage_error), retrying in" in (s["note"] or "") for s in context.custom_statuses)


def test_storage_down_until_the_provider_copy_expires_fails_expired_keeping_what_was_stored_and_deleting_nothing():
    def store(payload):
        if payload["output"]["kind"] == "video":
            raise StorageError("storage is down")

    provider = Provider(store=store, expires_in=3600)
    result, context = play(run_input({"STORE_RETRY_SECONDS": "60,300"}), provider)
    assert result["status"] == "failed" and result["error"]["code"] == "expired"
    assert "before the provider's copy expires" in result["error"]["message"]
    assert provider.deleted == [], "the provider's copy is never deleted early"
    assert [o["kind"] for o in result["outputs"]] == ["thumbnail"], "what could be stored stays stored"
    # It gave up shortly before the expiry (a tenth of the hour's retention), not long before it.
    expiry = START + timedelta(hours=1)
    assert expiry - timedelta(minutes=11) <= context.current_utc_datetime <= expiry


def test_a_download_the_provider_says_has_expired_fails_expired_at_once():
    def store(payload):
        raise ProviderExpired("gone", provider_code="video_expired")

    result, context = play(run_input(), Provider(store=store))
    assert result["status"] == "failed" and result["error"]["code"] == "expired"
    assert context.names().count("store_provider_output") == 2


def test_a_failed_chained_remix_leaves_the_run_completed_with_its_first_video_and_the_remix_error():
    provider = Provider()
    provider.fail_remix = True
    result, _ = play(run_input(remix={"prompt": "watercolour"}), provider)
    assert result["status"] == "completed" and result["error"] is None
    assert result["remix_error"]["code"] == "provider_failed"
    assert [o["source"] for o in result["outputs"]] == ["generation", "generation"]
    assert provider.deleted == ["remix_2"], "the failed remix may go; the paid first video stays"
    assert result["stored_job_id"] == "video_1"


def test_delete_provider_copy_deletes_each_job_once_it_is_stored():
    provider = Provider()
    result, _ = play(run_input({"DELETE_PROVIDER_COPY": "true"}, remix={"prompt": "watercolour"}), provider)
    assert result["status"] == "completed" and provider.deleted == ["video_1", "remix_2"]


def test_a_delete_that_fails_is_shown_in_the_result_and_the_manifest():
    manifests = []

    def delete(payload):
        raise ProviderServerError("cannot delete now", provider_code="server_error")

    provider = Provider(polls=50)
    result, _ = play(run_input({"RUN_TIMEOUT_MINUTES": "1"}), provider,
                     activities={"delete_provider_job": delete, "write_run_manifest": manifests.append})  # fmt: skip
    assert result["delete_error"]["code"] == "provider_server_error"
    assert result["delete_error"]["job_id"] == "video_1"
    assert manifests[0]["delete_error"] == result["delete_error"]


# --- reporting ---


def test_a_manifest_write_while_storage_is_down_is_retried_on_durable_timers():
    outage = iter(range(5))

    def write(payload):
        if next(outage, None) is not None:
            raise StorageError("storage is down")
        return "runs/run-unit-0001/run.json"

    result, context = play(run_input({"STORE_RETRY_SECONDS": "3,6"}), Provider(),
                           activities={"write_run_manifest": write})  # fmt: skip
    assert result["manifest"] == "runs/run-unit-0001/run.json"
    assert context.timers[-5:] == [3, 6, 6, 6, 6]


def test_a_callback_receiver_that_is_down_is_retried_on_durable_timers_not_in_the_worker():
    answers = iter([CallbackDeliveryError("HTTP 503", retryable=True)] * 2)

    def deliver(payload):
        error = next(answers, None)
        if error:
            raise error
        return {"status_code": 200, "attempts": 1}

    result, context = play(run_input(callback_url="https://example.com/hook"), Provider(),
                           activities={"deliver_run_callback": deliver})  # fmt: skip
    assert context.names().count("deliver_run_callback") == 3 and context.timers[-2:] == [1, 2]
    assert "callback_error" not in result


def test_a_callback_the_receiver_refuses_is_not_sent_again():
    def deliver(payload):
        raise CallbackDeliveryError("HTTP 400", retryable=False)

    result, context = play(run_input(callback_url="https://example.com/hook"), Provider(),
                           activities={"deliver_run_callback": deliver})  # fmt: skip
    assert context.names().count("deliver_run_callback") == 1
    assert result["callback_error"]["code"] == "callback_failed" and result["status"] == "completed"


def test_the_run_state_survives_its_dict_form_unchanged():
    provider = Provider(polls=4)
    _, contexts = play_through(run_input({"RUN_POLLS_PER_EXECUTION": "2"}, remix={"prompt": "w"}), provider)
    for context in contexts[:-1]:
        assert RunInput.from_dict(context.continued).to_dict() == context.continued
        assert RunInput.from_dict(context.continued).state.step in set(Step)


# --- push completion ---


def pushing(data: dict) -> dict:
    """The input of a run whose provider calls back (what build_run_input sets for a pushing provider)."""
    return {**data, "options": {**data["options"], "push": True}}


def test_with_push_polling_is_only_a_slow_fallback():
    _, context = play(pushing(run_input()), Provider(polls=2))
    assert context.timers and min(context.timers) >= PUSH_FALLBACK_SECONDS


def test_a_push_wakes_the_run_at_once_instead_of_waiting_out_the_poll():
    provider = Provider(polls=2)
    result, context = play(pushing(run_input()), provider, update_when=lambda ctx: True)
    assert result["status"] == "completed" and provider.created == ["video_1"]
    assert context.updates_delivered == 2 and context.timers == [], "each poll came from a push, none from a timer"


def test_a_run_whose_provider_does_not_push_never_waits_for_one():
    _, context = play(run_input(), Provider(polls=2), update_when=lambda ctx: True)
    assert context.updates_delivered == 0 and len(context.timers) == 2


def test_a_providers_own_queue_position_is_shown_while_generating():
    provider = Provider(polls=3)
    job = provider.job

    def with_position(job_id):
        answer = job(job_id)
        return {**answer, "extra": {"queue_position": 4}} if answer["status"] != "succeeded" else answer

    provider.job = with_position
    _, context = play(run_input(), provider)
    generating = [s for s in context.custom_statuses if s["status"] == "generating"]
    assert generating and generating[0]["queue_position"] == 4


@pytest.mark.parametrize(("api", "provider"), [("videos", "sora"), ("jobs", "sora-jobs")])
def test_a_run_recorded_before_providers_were_named_is_routed_to_its_sora_api(api, provider):
    data = run_input()
    request = {key: value for key, value in data["request"].items() if key != "provider"}
    request["api"] = api
    assert RunInput.from_dict({**data, "request": request}).provider == provider


def test_a_run_names_the_provider_its_request_was_made_for():
    data = run_input()
    assert RunInput.from_dict({**data, "request": {**data["request"], "provider": "fal"}}).provider == "fal"


# --- waiting for capacity: woken by the gate, the timer only a fallback ---

GATED = {"SORA_QUOTA_GATE": "true"}


class Gate:
    """The quota entity's answers: `refusals` asks are refused (in line at position 1), then the run is let in;
    a release lets in `admits`."""

    def __init__(self, refusals: int = 0, admits: tuple[str, ...] = ()):
        self.refusals = refusals
        self.admits = admits
        self.asks = 0

    def __call__(self, operation: str, payload: dict) -> dict:
        if operation == "release":
            return {"released": True, "admitted": list(self.admits)}
        self.asks += 1
        granted = self.asks > self.refusals
        return {"granted": granted, "position": None if granted else 1, "admitted": [],
                "lease_expires": START.timestamp() + 120 if granted else None}  # fmt: skip


def capacity_waits(context: ScriptedContext) -> list[float]:
    return [seconds for stage, seconds in context.timers_at if stage == "waiting_for_capacity"]


def test_a_run_in_line_is_woken_by_the_gates_event_without_waiting_out_its_timer():
    gate, provider = Gate(refusals=1), Provider()
    result, context = play(run_input(GATED), provider, entity=gate, capacity_when=lambda ctx: True)
    assert result["status"] == "completed" and provider.created == ["video_1"]
    assert gate.asks == 2 and context.capacity_wakes_delivered == 1
    assert capacity_waits(context) == [], "the wait in line ended by the event, not by a timer"


def test_a_lost_wake_up_is_covered_by_asking_again_after_the_fallback_timer():
    gate, provider = Gate(refusals=2), Provider()
    result, context = play(run_input(GATED), provider, entity=gate)
    assert result["status"] == "completed" and provider.created == ["video_1"]
    assert capacity_waits(context) == [30.0, 30.0] and gate.asks == 3


def test_an_extra_wake_up_while_still_in_line_only_asks_the_gate_again():
    gate, provider = Gate(refusals=3), Provider()
    result, context = play(run_input(GATED), provider, entity=gate, capacity_when=lambda ctx: True)
    assert result["status"] == "completed" and provider.created == ["video_1"]
    assert gate.asks == 4 and context.capacity_wakes_delivered == 3, "each wake-up was checked with the gate"


def test_wake_ups_before_the_gate_grants_the_remix_do_not_let_it_in():
    provider = Provider()
    grants = iter([True, False, False, True])

    def entity(operation, payload):
        if operation == "release":
            return {"released": True, "admitted": []}
        granted = next(grants)
        return {"granted": granted, "position": None if granted else 1, "admitted": [],
                "lease_expires": START.timestamp() + 120 if granted else None}  # fmt: skip

    data = run_input(GATED, remix={"prompt": "watercolour"})
    result, context = play(data, provider, entity=entity, capacity_when=lambda ctx: True)
    assert result["status"] == "completed" and provider.created == ["video_1", "remix_2"]
    asks = [op for op, _ in context.entity_calls if op == "acquire"]
    assert len(asks) == 4, "each wake-up was checked with the gate; only its grant let the remix in"


def test_a_run_that_frees_its_slot_wakes_the_run_the_gate_let_in():
    gate, provider = Gate(admits=("run-next",)), Provider()
    result, context = play(run_input(GATED), provider, entity=gate)
    wakes = [payload for name, payload in context.calls if name == "wake_waiting_runs"]
    assert result["status"] == "completed"
    assert wakes == [{"run_ids": ["run-next"], "by": "run-unit-0001"}]
    assert context.names().index("wake_waiting_runs") < context.names().index("store_provider_output"), (
        "the slot is handed on as soon as the render ends, before the downloads"
    )


def test_a_release_that_lets_no_one_in_wakes_no_one():
    _, context = play(run_input(GATED), Provider(), entity=Gate())
    assert "wake_waiting_runs" not in context.names()


def test_a_wake_up_that_cannot_be_sent_never_fails_the_run_that_freed_the_slot():
    def broken(payload):
        raise crash("ConnectionError: the host is gone")

    result, _ = play(run_input(GATED), Provider(), entity=Gate(admits=("run-next",)),
                     activities={"wake_waiting_runs": broken})  # fmt: skip
    assert result["status"] == "completed"


def test_a_job_created_after_a_wait_in_line_is_polled_from_its_own_creation_not_the_runs():
    """After 60 s in line, the first reading says 50 % 3 s after the create: the job should end 3 s later, so the
    next look lands just past that (measured from the run's start it would read 50 % in 63 s, and wait 38 s)."""
    result, context = play(run_input(GATED), Provider(polls=2), entity=Gate(refusals=2))
    assert result["status"] == "completed"
    assert context.timers_at[:2] == [("waiting_for_capacity", 30.0)] * 2
    assert [seconds for _, seconds in context.timers_at[2:]] == [3.0, 3 + DEFAULT_BOUNDS.margin_floors]


def test_a_run_whose_provider_pushes_shows_generating_as_soon_as_its_job_exists():
    """With push the first status call may be the only one: the stage must not wait for it."""
    _, context = play(pushing(run_input()), Provider(polls=1))
    first_wait = context.timers_at[0]
    assert first_wait == ("generating", PUSH_FALLBACK_SECONDS)
