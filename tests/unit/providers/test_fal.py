"""The fal adapter's pure parts: soraflow sizes and durations in fal's words, fal's statuses in ours, and webhook
signatures checked with a real Ed25519 key."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from soraflow.config import Settings
from soraflow.errors import ConfigurationError, RequestValidationError
from soraflow.providers.fal import (
    BUILT_IN_MODELS,
    FalProvider,
    FalWebhookVerifier,
    WebhookRefused,
    fal_input,
    fal_job_id,
    fal_models,
    parse_status,
    reference_data_uri,
    split_job_id,
)
from soraflow.providers.job import InputReference, JobSpec
from soraflow.providers.registry import parse_request, run_cost
from soraflow.providers.status import JobStatus

NOW = 1_780_000_000
JOB = fal_job_id("fal-ai/veo3.1/fast", "3f9d2c1e-0000-4000-8000-000000000001")


def spec(model: str = "fal-ai/veo3.1", size: str = "1280x720", seconds: str = "4", **options) -> JobSpec:
    width, height = (int(n) for n in size.split("x"))
    return JobSpec(prompt="a paper boat", model=model, width=width, height=height, seconds=seconds, options=options)


# ---- mapping a request onto fal's schemas --------------------------------------------------------------------


def test_veo_sizes_become_aspect_ratio_and_resolution_and_seconds_fal_strings():
    endpoint, body = fal_input(spec(size="1080x1920", seconds="8", generate_audio=False, seed=7))
    assert endpoint == "fal-ai/veo3.1"
    assert body == {
        "prompt": "a paper boat",
        "aspect_ratio": "9:16",
        "resolution": "1080p",
        "duration": "8s",
        "generate_audio": False,
        "seed": 7,
    }


def test_a_reference_image_picks_the_image_to_video_endpoint_and_travels_as_image_url():
    endpoint, body = fal_input(spec(model="fal-ai/kling-video/v2.5-turbo/pro", size="1080x1920", seconds="10"),
                               "data:image/png;base64,AAAA")  # fmt: skip
    assert endpoint == "fal-ai/kling-video/v2.5-turbo/pro/image-to-video"
    # Kling's image-to-video takes its aspect from the image: no aspect_ratio field.
    assert body == {"prompt": "a paper boat", "duration": "10", "image_url": "data:image/png;base64,AAAA"}


def test_kling_text_to_video_sends_its_aspect_ratio_and_bare_duration():
    endpoint, body = fal_input(spec(model="fal-ai/kling-video/v2.5-turbo/pro", size="1080x1080", seconds="5"))
    assert endpoint == "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"
    assert body["aspect_ratio"] == "1:1" and body["duration"] == "5"


def test_hailuo_image_to_video_asks_for_768p_and_sends_a_bare_duration():
    endpoint, body = fal_input(spec(model="fal-ai/minimax/hailuo-02/standard", size="1366x768", seconds="10"), "u")
    assert endpoint == "fal-ai/minimax/hailuo-02/standard/image-to-video"
    assert body == {"prompt": "a paper boat", "duration": "10", "image_url": "u", "resolution": "768P"}


def test_a_size_the_model_cannot_make_is_refused_naming_the_sizes_it_can():
    with pytest.raises(RequestValidationError, match="size must be one of 1280x720"):
        fal_input(spec(size="1024x1024"))


def test_a_request_a_fal_model_cannot_serve_is_a_400_naming_the_field():
    settings = Settings.from_env({"FAL_KEY": "k", "VIDEO_PROVIDER": "fal"})
    with pytest.raises(RequestValidationError) as refused:
        parse_request({"prompt": "x", "model": "fal-ai/veo3.1", "seconds": "5"}, settings)
    assert refused.value.errors[0].field == "seconds" and '"4", "6", "8"' in refused.value.errors[0].message


def test_veo_is_priced_with_audio_unless_the_request_turns_it_off():
    settings = Settings.from_env({"FAL_KEY": "k", "VIDEO_PROVIDER": "fal"})
    with_audio = parse_request({"prompt": "x", "model": "fal-ai/veo3.1", "seconds": "4"}, settings)
    silent = parse_request(
        {"prompt": "x", "model": "fal-ai/veo3.1", "seconds": "4", "provider_options": {"generate_audio": False}},
        settings,
    )
    assert run_cost(with_audio, settings).estimated_usd == pytest.approx(1.60)
    assert run_cost(silent, settings).estimated_usd == pytest.approx(0.80)


def test_every_fal_model_declares_a_week_of_retention_push_and_no_listing():
    for caps in FalProvider().models(Settings.from_env({"FAL_KEY": "k"})):
        assert (caps.retention_hours, caps.lists_jobs, caps.pushes_completion) == (168.0, False, True)


def test_the_quota_key_is_per_queue_url_with_fal_max_concurrent_jobs():
    settings = Settings.from_env({"FAL_KEY": "k", "FAL_MAX_CONCURRENT_JOBS": "5"})
    other = Settings.from_env({"FAL_KEY": "k", "FAL_QUEUE_URL": "https://queue.example.test"})
    quota = FalProvider().quota(settings)
    assert quota["limits"]["concurrent"] == 5
    assert quota["key"] != FalProvider().quota(other)["key"]


def test_the_reference_travels_as_a_data_uri():
    image = InputReference(b"\x89PNG-bytes", "reference.png", "image/png")
    uri = reference_data_uri(JobSpec("p", "fal-ai/veo3.1", 1280, 720, "4", input_reference=image))
    assert uri == "data:image/png;base64," + base64.b64encode(b"\x89PNG-bytes").decode()


# ---- fal's statuses --------------------------------------------------------------------------------------------


def test_in_queue_keeps_its_queue_position():
    job = parse_status(JOB, {"status": "IN_QUEUE", "queue_position": 3, "request_id": "r"})
    assert job.status is JobStatus.QUEUED and job.extra["queue_position"] == 3


def test_in_progress_reads_its_progress_from_the_last_percentage_logged():
    logs = [{"message": "Generating video: 25%"}, {"message": "Generating video: 60%"}, {"message": "encoding"}]
    job = parse_status(JOB, {"status": "IN_PROGRESS", "logs": logs})
    assert job.status is JobStatus.RUNNING and job.progress == 60


def test_completed_without_an_error_succeeds_with_one_video_output():
    job = parse_status(JOB, {"status": "COMPLETED", "logs": None, "metrics": {"inference_time": 3.4}})
    assert job.status is JobStatus.SUCCEEDED
    assert [(o.kind, o.source_id) for o in job.outputs] == [("video", JOB)]


def test_completed_with_an_error_fails_keeping_fals_error_type():
    job = parse_status(JOB, {"status": "COMPLETED", "logs": [], "error": "boom", "error_type": "runner_server_error"})
    assert job.status is JobStatus.FAILED and job.error.code == "runner_server_error" and not job.outputs


def test_a_content_policy_error_type_is_a_moderation_failure():
    job = parse_status(JOB, {"status": "COMPLETED", "error": "refused", "error_type": "content_policy_violation"})
    assert job.status is JobStatus.FAILED and job.error.content_policy


def test_a_cancelled_request_is_cancelled():
    job = parse_status(JOB, {"status": "COMPLETED", "error": "cancelled", "error_type": "client_cancelled"})
    assert job.status is JobStatus.CANCELLED


def test_an_unknown_status_word_keeps_the_run_going():
    assert parse_status(JOB, {"status": "WARMING_UP"}).status is JobStatus.RUNNING


def test_status_urls_use_only_the_owner_and_app_of_the_endpoint():
    assert split_job_id(JOB) == ("fal-ai/veo3.1", "3f9d2c1e-0000-4000-8000-000000000001")


@pytest.mark.parametrize("bad", ["no-separator", "../x::id", "fal-ai/veo3.1::../../x", "fal-ai::id", 7])
def test_a_malformed_job_id_is_refused_before_any_call(bad):
    with pytest.raises(RequestValidationError, match=r"fal job id|provider id"):
        split_job_id(bad)


# ---- webhook signatures ----------------------------------------------------------------------------------------


class Fal:
    """fal's side of a webhook: a real Ed25519 key, its JWKS, and signed deliveries."""

    def __init__(self):
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.jwks = {
            "keys": [{"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}]
        }
        self.fetches = 0

    def fetch(self, url: str) -> dict:
        self.fetches += 1
        return self.jwks

    def delivery(self, request_id: str = "req-1", *, timestamp: int = NOW, body: bytes | None = None, key=None):
        body = body if body is not None else json.dumps({"request_id": request_id, "status": "OK"}).encode()
        message = "\n".join([request_id, "user-1", str(timestamp), hashlib.sha256(body).hexdigest()])
        headers = {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": "user-1",
            "X-Fal-Webhook-Timestamp": str(timestamp),
            "X-Fal-Webhook-Signature": (key or self.key).sign(message.encode()).hex(),
        }
        return headers, body


@pytest.fixture
def fal() -> Fal:
    return Fal()


def verifier(fal: Fal, now: float = NOW) -> FalWebhookVerifier:
    return FalWebhookVerifier("https://jwks.test/.well-known/jwks.json", clock=lambda: now, fetch=fal.fetch)


def test_a_delivery_fal_signed_is_accepted(fal):
    headers, body = fal.delivery()
    delivery = verifier(fal).verify(headers, body)
    assert (delivery.request_id, delivery.status) == ("req-1", "OK")


def test_a_body_changed_after_signing_is_refused(fal):
    headers, _ = fal.delivery()
    with pytest.raises(WebhookRefused, match="does not verify"):
        verifier(fal).verify(headers, json.dumps({"request_id": "req-1", "status": "ERROR"}).encode())


def test_a_delivery_signed_by_another_key_is_refused(fal):
    headers, body = fal.delivery(key=Ed25519PrivateKey.generate())
    with pytest.raises(WebhookRefused, match="does not verify"):
        verifier(fal).verify(headers, body)


def test_a_signed_request_id_cannot_be_swapped(fal):
    headers, body = fal.delivery()
    headers["X-Fal-Webhook-Request-Id"] = "req-2"
    with pytest.raises(WebhookRefused):
        verifier(fal).verify(headers, body)


@pytest.mark.parametrize("skew", [-301, 301, 3600])
def test_a_timestamp_more_than_five_minutes_away_is_refused_as_a_replay(fal, skew):
    headers, body = fal.delivery(timestamp=NOW + skew)
    with pytest.raises(WebhookRefused, match="5 minutes"):
        verifier(fal).verify(headers, body)


def test_a_timestamp_within_five_minutes_is_accepted(fal):
    headers, body = fal.delivery(timestamp=NOW - 299)
    assert verifier(fal).verify(headers, body).request_id == "req-1"


@pytest.mark.parametrize("header", ["X-Fal-Webhook-Signature", "X-Fal-Webhook-Timestamp", "X-Fal-Webhook-User-Id"])
def test_a_missing_header_is_refused_naming_it(fal, header):
    headers, body = fal.delivery()
    del headers[header]
    with pytest.raises(WebhookRefused, match=header.lower()):
        verifier(fal).verify(headers, body)


def test_a_signature_that_is_not_hex_is_refused(fal):
    headers, body = fal.delivery()
    headers["X-Fal-Webhook-Signature"] = "zz"
    with pytest.raises(WebhookRefused, match="hex"):
        verifier(fal).verify(headers, body)


def test_the_key_set_is_fetched_once_and_cached(fal):
    check = verifier(fal)
    for request_id in ("a", "b", "c"):
        check.verify(*fal.delivery(request_id))
    assert fal.fetches == 1


def test_forged_deliveries_do_not_refetch_the_key_set_each_time(fal):
    check = verifier(fal)
    check.verify(*fal.delivery())
    for _ in range(5):
        with pytest.raises(WebhookRefused):
            check.verify(*fal.delivery(key=Ed25519PrivateKey.generate()))
    assert fal.fetches == 1


def test_a_key_fal_rotated_in_is_found_by_one_refetch(fal):
    now = [float(NOW)]
    check = FalWebhookVerifier("https://jwks.test/jwks.json", clock=lambda: now[0], fetch=fal.fetch)
    check.verify(*fal.delivery())
    fal.key = Ed25519PrivateKey.generate()
    raw = fal.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    fal.jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}]}
    now[0] += 120
    assert check.verify(*fal.delivery(timestamp=int(now[0]))).request_id == "req-1"
    assert fal.fetches == 2


def extra(table) -> Settings:
    return Settings.from_env({"FAL_KEY": "k", "FAL_EXTRA_MODELS": json.dumps(table)})


def test_a_fal_model_added_by_setting_is_declared_beside_the_built_in_ones():
    settings = extra({"fal-ai/wan/v2.2-a14b/text-to-video": {"sizes": {"1280x720": {"resolution": "720p"}},
                                                             "seconds": ["5"], "usd_per_second": 0.08}})  # fmt: skip
    models = {caps.model: caps for caps in FalProvider().models(settings)}
    added = models["fal-ai/wan/v2.2-a14b/text-to-video"]
    assert set(BUILT_IN_MODELS) < set(models)
    assert (added.sizes, added.seconds, added.reference, added.audio) == (("1280x720",), ("5",), None, False)
    assert added.usd_per_second == {"*": 0.08} and added.pushes_completion and not added.lists_jobs
    endpoint, body = fal_input(spec(model=added.model, size="1280x720", seconds="5"), None, fal_models(settings))
    assert (endpoint, body) == (added.model, {"prompt": "a paper boat", "resolution": "720p", "duration": "5"})


def test_a_fal_model_added_like_a_built_in_one_takes_its_table_under_its_own_endpoints():
    settings = extra({"fal-ai/veo3.2": {"like": "fal-ai/veo3.1", "image_endpoint": "fal-ai/veo3.2/image-to-video"}})
    added = fal_models(settings)["fal-ai/veo3.2"]
    veo = BUILT_IN_MODELS["fal-ai/veo3.1"]
    assert (added.sizes, added.seconds, added.options, added.audio) == (veo.sizes, veo.seconds, veo.options, True)
    assert added.image_endpoint == "fal-ai/veo3.2/image-to-video" and added.text_endpoint == "fal-ai/veo3.2"
    endpoint, _ = fal_input(spec(model="fal-ai/veo3.2", size="1280x720", seconds="8"), "data:x", fal_models(settings))
    assert endpoint == "fal-ai/veo3.2/image-to-video"


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("not json", "is not JSON"),
        ([], "JSON object"),
        ({"https://evil.test/x": {"like": "fal-ai/veo3.1"}}, "fal endpoint id"),
        ({"fal-ai/../x": {"like": "fal-ai/veo3.1"}}, "fal endpoint id"),
        ({"fal-ai/x": "veo"}, "must be an object"),
        ({"fal-ai/x": {"like": "fal-ai/nope"}}, "like must name a built-in"),
        ({"fal-ai/x": {"sizes": {"1280x720": {}}}}, "seconds must"),
        ({"fal-ai/x": {"seconds": ["5"]}}, "sizes must"),
        ({"fal-ai/x": {"sizes": {"wide": {}}, "seconds": ["5"]}}, "sizes must"),
        ({"fal-ai/x": {"sizes": {"1280x720": {}}, "seconds": ["five"]}}, "seconds must"),
        ({"fal-ai/x": {"like": "fal-ai/veo3.1", "usd_per_second": "cheap"}}, "usd_per_second must"),
        ({"fal-ai/x": {"like": "fal-ai/veo3.1", "default_seconds": "12"}}, "default_size and default_seconds"),
        ({"fal-ai/x": {"like": "fal-ai/veo3.1", "audio": "yes"}}, "audio must"),
        ({"fal-ai/x": {"like": "fal-ai/veo3.1", "text_endpoint": "../x"}}, "text_endpoint must"),
        ({"fal-ai/x": {"like": "fal-ai/veo3.1", "colour": "red"}}, "unknown field 'colour'"),
    ],
)
def test_a_malformed_fal_model_table_names_the_setting_and_what_is_wrong(table, words):
    raw = table if isinstance(table, str) else json.dumps(table)
    settings = Settings.from_env({"FAL_KEY": "k", "FAL_EXTRA_MODELS": raw})
    with pytest.raises(ConfigurationError) as raised:
        FalProvider().models(settings)
    assert raised.value.setting == "FAL_EXTRA_MODELS"
    assert words in str(raised.value)
