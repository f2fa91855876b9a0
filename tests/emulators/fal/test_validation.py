"""Model input validation (fal's 422 `detail` list) and the content-policy rule, reported as fal's queue does."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from emulators import processes
from tests.emulators.fal.conftest import FAL_EMULATOR_KEY, VEO_FAST, Harness
from tests.media import image_bytes


def data_uri(width: int, height: int, colour=(30, 160, 90)) -> str:
    return "data:image/png;base64," + base64.b64encode(image_bytes(width, height, colour=colour)).decode()


def failed_detail(fal: Harness, body: dict, endpoint: str = VEO_FAST) -> list[dict]:
    """Submit (accepted, as fal's queue accepts any body), wait for completion, return the result's 422 detail."""
    response = fal.http.post(f"/{endpoint}", json=body)
    assert response.status_code == 200, response.text
    status = fal.wait_completed(response.json())
    result = fal.http.get(response.json()["response_url"])
    assert result.status_code == 422, result.text
    assert status["error_type"] == result.json()["detail"][0]["type"]
    return result.json()["detail"]


def test_invalid_input_completes_with_a_422_detail_list_naming_every_field(fal: Harness):
    detail = failed_detail(fal, {"duration": 8, "resolution": "8k", "generate_audio": "yes"})
    assert [(d["loc"], d["type"]) for d in detail] == [
        (["body", "prompt"], "missing"),
        (["body", "duration"], "literal_error"),
        (["body", "resolution"], "literal_error"),
        (["body", "generate_audio"], "bool_type"),
    ]
    assert detail[1]["msg"] == "Input should be '4s', '6s' or '8s'"
    assert detail[1]["input"] == 8


def test_invalid_input_never_runs(fal: Harness):
    fal.reset(time_scale=1.0)
    submitted = fal.submit(duration="5s")
    fal.advance(7)  # past the 10 % startup of a 60 s render: the runner refused the input at once
    status = fal.status(submitted).json()
    assert status["status"] == "COMPLETED"
    assert status["logs"][-1]["level"] == "ERROR"


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("fal-ai/veo3.1/image-to-video", {"prompt": "x"}, "image_url"),
        ("fal-ai/veo3.1", {"prompt": "x", "aspect_ratio": "1:1"}, "aspect_ratio"),
        ("fal-ai/kling-video/v2.5-turbo/pro/text-to-video", {"prompt": "x", "duration": "6"}, "duration"),
        ("fal-ai/kling-video/v2.5-turbo/pro/text-to-video", {"prompt": "x", "cfg_scale": 1.5}, "cfg_scale"),
        ("fal-ai/kling-video/v2.5-turbo/pro/image-to-video", {"prompt": "x", "image_url": "boat.png"}, "image_url"),
        ("fal-ai/minimax/hailuo-02/standard/text-to-video", {"prompt": "x", "duration": "8"}, "duration"),
        ("fal-ai/minimax/hailuo-02/standard/image-to-video", {"prompt": "x", "resolution": "768p"}, "resolution"),
    ],
)
def test_each_model_checks_its_own_schema(fal: Harness, endpoint: str, body: dict, field: str):
    detail = failed_detail(fal, body, endpoint)
    assert ["body", field] in [d["loc"] for d in detail]


def test_fields_a_schema_does_not_define_are_ignored_as_fal_does(fal: Harness):
    submitted = fal.submit(duration="4s", enhance_prompt=True)
    fal.wait_completed(submitted)
    assert fal.http.get(submitted["response_url"]).status_code == 200


def test_a_body_that_is_not_json_is_a_json_invalid_detail(fal: Harness):
    response = fal.http.post(f"/{VEO_FAST}", content=b"{not json", headers={"content-type": "application/json"})
    fal.wait_completed(response.json())
    result = fal.http.get(response.json()["response_url"])
    assert (result.status_code, result.json()["detail"][0]["type"]) == (422, "json_invalid")


def test_an_input_moderation_token_fails_the_request_with_content_policy_violation(fal: Harness):
    [detail] = failed_detail(fal, {"prompt": "a boat [input-moderation]", "duration": "4s"})
    assert (detail["loc"], detail["type"]) == (["body", "prompt"], "content_policy_violation")


def test_a_magenta_reference_image_is_flagged(fal: Harness):
    body = {"prompt": "a boat", "image_url": data_uri(64, 64, colour=(255, 0, 255)), "duration": "4s"}
    [detail] = failed_detail(fal, body, "fal-ai/veo3.1/fast/image-to-video")
    assert (detail["loc"], detail["type"]) == (["body", "image_url"], "content_policy_violation")


def test_an_image_url_that_cannot_be_fetched_is_a_file_download_error(fal: Harness):
    body = {"prompt": "a boat", "image_url": f"http://127.0.0.1:{processes.free_port()}/missing.png"}
    [detail] = failed_detail(fal, body, "fal-ai/veo3.1/fast/image-to-video")
    assert detail["type"] == "file_download_error"


def test_output_moderation_fails_late_after_logs(fal: Harness):
    fal.reset(time_scale=1.0)
    submitted = fal.submit(prompt="a boat [moderation]", duration="4s")
    fal.advance(30)  # 75 % of a 40 s render: still running
    assert fal.status(submitted).json()["status"] == "IN_PROGRESS"
    fal.advance(10)
    status = fal.status(submitted).json()
    assert (status["status"], status["error_type"]) == ("COMPLETED", "content_policy_violation")
    assert [e["level"] for e in status["logs"]][-2:] == ["INFO", "ERROR"]
    assert fal.http.get(submitted["response_url"]).status_code == 422


def test_an_internal_error_token_fails_with_a_500_request_error(fal: Harness):
    submitted = fal.submit(prompt="a boat [internal-error]", duration="4s")
    fal.wait_completed(submitted)
    result = fal.http.get(submitted["response_url"])
    assert result.status_code == 500
    assert result.headers["X-Fal-Error-Type"] == result.json()["error_type"] == "runner_server_error"


@pytest.fixture(scope="module")
def submit_validating_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    root = tmp_path_factory.mktemp("fal-submit-validation")
    args = ["--api-key", FAL_EMULATOR_KEY, "--validation-errors", "submit", "--media-cache", str(root / "media")]
    with processes.start_fal_emulator(args=args, log_path=root / "fal.log") as server:
        yield server


def test_with_validation_errors_at_submit_bad_input_is_a_422_and_queues_nothing(submit_validating_emulator):
    url = submit_validating_emulator.extra["url"]
    headers = {"Authorization": f"Key {FAL_EMULATOR_KEY}"}
    response = httpx.post(f"{url}/{VEO_FAST}", json={"prompt": "x", "duration": "5s"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "duration"]
    assert httpx.get(f"{url}/_emulator/status").json()["queued_jobs"] == 0
    [submit] = httpx.get(f"{url}/_emulator/requests", params={"operation": "submit"}).json()["requests"]
    assert (submit["status"], submit["job_id"]) == (422, None)
