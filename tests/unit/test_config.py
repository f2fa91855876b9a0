import pytest

from soraflow.config import Settings
from soraflow.errors import ConfigurationError

BASE = {"SORA_ENDPOINT": "http://127.0.0.1:8910"}


def test_defaults_apply_when_only_the_endpoint_is_set():
    settings = Settings.from_env(BASE)
    assert settings.sora_api == "videos"
    assert settings.sora_max_concurrent_jobs == 2
    assert settings.video_output_container == "videos"
    assert settings.run_timeout_minutes == 60.0


def test_missing_endpoint_names_the_setting():
    with pytest.raises(ConfigurationError, match="SORA_ENDPOINT is not set"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SORA_ENDPOINT", "ftp://x", "SORA_ENDPOINT must be an http"),
        ("SORA_API", "sora3", "SORA_API must be one of videos, jobs"),
        ("SORA_MAX_CONCURRENT_JOBS", "two", "SORA_MAX_CONCURRENT_JOBS must be a whole number"),
        ("SORA_MAX_CONCURRENT_JOBS", "0", "SORA_MAX_CONCURRENT_JOBS must be at least 1"),
        ("RUN_TIMEOUT_MINUTES", "nan", "RUN_TIMEOUT_MINUTES must be a finite number"),
        ("RUN_TIMEOUT_MINUTES", "-5", "RUN_TIMEOUT_MINUTES must be a finite number"),
        ("VIDEO_OUTPUT_CONTAINER", "Videos_Out", "VIDEO_OUTPUT_CONTAINER must be a valid container name"),
        ("VIDEO_REQUEST_CONTAINER", "ab", "VIDEO_REQUEST_CONTAINER must be a valid container name"),
        ("DELETE_PROVIDER_COPY", "maybe", "DELETE_PROVIDER_COPY must be true or false"),
        ("RUN_POLLS_PER_EXECUTION", "0", "RUN_POLLS_PER_EXECUTION must be at least 1"),
        ("RUN_POLLS_PER_EXECUTION", "many", "RUN_POLLS_PER_EXECUTION must be a whole number"),
        ("POLL_INITIAL_SECONDS", "0", "POLL_INITIAL_SECONDS must be a finite number of at least 0.05"),
        ("POLL_FLOOR_SECONDS", "soon", "POLL_FLOOR_SECONDS must be a number"),
        ("CREATE_RETRY_SECONDS", "5,ten", "CREATE_RETRY_SECONDS must be comma-separated seconds .* got 'ten'"),
        ("CREATE_RETRY_SECONDS", "5,,10", "CREATE_RETRY_SECONDS must be comma-separated seconds .* got ''"),
        ("CREATE_RETRY_SECONDS", "-1", "CREATE_RETRY_SECONDS must be comma-separated seconds"),
        ("CREATE_RETRY_SECONDS", "nan", "CREATE_RETRY_SECONDS must be comma-separated seconds"),
        ("CREATE_RETRY_SECONDS", "inf", "CREATE_RETRY_SECONDS must be comma-separated seconds"),
        ("CREATE_RETRY_SECONDS", "3601", "CREATE_RETRY_SECONDS must be comma-separated seconds"),
        ("CREATE_RETRY_SECONDS", ",".join(["1"] * 21), "CREATE_RETRY_SECONDS must list at most 20 waits, got 21"),
    ],
)
def test_malformed_setting_is_rejected_naming_it(name, value, message):
    with pytest.raises(ConfigurationError, match=message) as info:
        Settings.from_env({**BASE, name: value})
    assert info.value.setting == name


def test_api_choice_is_case_insensitive():
    assert Settings.from_env({**BASE, "SORA_API": "JOBS"}).sora_api == "jobs"


def test_importing_the_app_reads_no_settings(monkeypatch):
    import importlib

    monkeypatch.delenv("SORA_ENDPOINT", raising=False)
    import function_app

    importlib.reload(function_app)


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("off", False), ("", False)])
def test_delete_provider_copy_is_a_flag(raw, expected):
    assert Settings.from_env({**BASE, "DELETE_PROVIDER_COPY": raw}).delete_provider_copy is expected


def test_create_retry_seconds_are_read_in_order():
    assert Settings.from_env(BASE).create_retry_seconds == (5.0, 10.0, 20.0, 30.0, 60.0)
    assert Settings.from_env({**BASE, "CREATE_RETRY_SECONDS": " 0.5, 1,2 "}).create_retry_seconds == (0.5, 1.0, 2.0)


def test_polling_bounds_default_to_the_policys_own():
    settings = Settings.from_env(BASE)
    assert (settings.poll_initial_seconds, settings.poll_floor_seconds) == (3.0, 1.0)
    chosen = Settings.from_env({**BASE, "POLL_INITIAL_SECONDS": "0.5", "POLL_FLOOR_SECONDS": "0.25"})
    assert (chosen.poll_initial_seconds, chosen.poll_floor_seconds) == (0.5, 0.25)
