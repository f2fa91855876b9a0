import json
import os
import re
import subprocess
import sys

import pytest

from emulators.processes import REPO_ROOT
from soraflow.config import RequestTrigger, Settings, request_trigger, task_hub_name
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


def test_importing_the_app_reads_only_the_blob_triggers_and_the_telemetry_switch():
    # A fresh interpreter with a clean environment: an already-imported module would hide a read at import.
    # Telemetry is set up when the app loads, so that the first call is traced; unset, nothing else is read.
    loaded = load_app_in_a_clean_process({})
    assert loaded["reads"] == [
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "VIDEO_REQUEST_CONTAINER",
        "VIDEO_REQUEST_TRIGGER_SOURCE",
    ]
    assert "start_run_from_blob" in loaded["functions"]


def test_with_no_settings_the_blob_trigger_is_bound_to_the_default_container_and_event_grid():
    [trigger] = [
        b for b in load_app_in_a_clean_process({})["functions"]["start_run_from_blob"] if b["type"] == "blobTrigger"
    ]
    assert (trigger["path"], trigger["source"], trigger["connection"]) == (
        "video-requests/{name}",
        "EventGrid",
        "VIDEO_STORAGE",
    )


def test_the_blob_trigger_is_bound_to_the_configured_container_and_source():
    loaded = load_app_in_a_clean_process(
        {"VIDEO_REQUEST_CONTAINER": "drop-box", "VIDEO_REQUEST_TRIGGER_SOURCE": " logsandcontainerscan "}
    )
    [trigger] = [b for b in loaded["functions"]["start_run_from_blob"] if b["type"] == "blobTrigger"]
    assert (trigger["path"], trigger["source"]) == ("drop-box/{name}", "LogsAndContainerScan")


def test_an_unknown_trigger_source_is_logged_once_at_indexing_and_every_function_still_indexes():
    clean = load_app_in_a_clean_process({})
    typo = load_app_in_a_clean_process({"VIDEO_REQUEST_TRIGGER_SOURCE": "LogsAndContainerScna"})
    assert list(typo["functions"]) == list(clean["functions"])
    [trigger] = [b for b in typo["functions"]["start_run_from_blob"] if b["type"] == "blobTrigger"]
    assert trigger["source"] == "EventGrid"
    [line] = [line for line in typo["stderr"].splitlines() if "VIDEO_REQUEST_TRIGGER_SOURCE" in line]
    assert "must be EventGrid or LogsAndContainerScan, got 'LogsAndContainerScna'" in line
    assert "VIDEO_REQUEST_TRIGGER_SOURCE" not in clean["stderr"]


def test_the_settings_table_lists_every_setting_the_app_reads_at_import():
    assert {"VIDEO_REQUEST_CONTAINER", "VIDEO_REQUEST_TRIGGER_SOURCE", "SORA_ENDPOINT"} <= readme_settings()


def test_an_unset_request_trigger_uses_event_grid_on_the_default_container():
    assert request_trigger({}) == RequestTrigger("EventGrid", "video-requests")


@pytest.mark.parametrize("raw", ["LogsAndContainerScan", " logsandcontainerscan ", "LOGSANDCONTAINERSCAN"])
def test_the_trigger_source_is_stripped_and_case_insensitive(raw):
    assert request_trigger({"VIDEO_REQUEST_TRIGGER_SOURCE": raw}).source == "LogsAndContainerScan"


def test_an_unknown_trigger_source_falls_back_to_event_grid_naming_the_setting_and_the_choices():
    trigger = request_trigger({"VIDEO_REQUEST_TRIGGER_SOURCE": "Polling"})
    assert trigger.source == "EventGrid"
    [problem] = trigger.problems
    assert problem.setting == "VIDEO_REQUEST_TRIGGER_SOURCE"
    assert "EventGrid or LogsAndContainerScan" in problem.message and "'Polling'" in problem.message


def test_a_malformed_request_container_falls_back_to_the_default_naming_the_setting():
    trigger = request_trigger({"VIDEO_REQUEST_CONTAINER": "Bad_Name"})
    assert trigger.container == "video-requests"
    assert [p.setting for p in trigger.problems] == ["VIDEO_REQUEST_CONTAINER"]


def test_the_request_trigger_and_the_settings_agree_on_the_container():
    env = {**BASE, "VIDEO_REQUEST_CONTAINER": " drop-box "}
    assert request_trigger(env).container == Settings.from_env(env).video_request_container == "drop-box"
    assert request_trigger(BASE).container == Settings.from_env(BASE).video_request_container


@pytest.mark.parametrize("name", ["soraflow", "Hub42", "abc", "a" * 45])
def test_a_valid_task_hub_name_is_accepted(name):
    assert task_hub_name({"TASKHUB_NAME": f" {name} "}) == name


def test_an_unset_task_hub_is_named_as_required():
    with pytest.raises(ConfigurationError, match="TASKHUB_NAME is not set") as raised:
        task_hub_name({})
    assert raised.value.setting == "TASKHUB_NAME"


@pytest.mark.parametrize("name", ["ab", "1hub", "sora-flow", "sora_flow", "a" * 46, "%TASKHUB_NAME%"])
def test_a_task_hub_name_breaking_the_naming_rule_is_refused(name):
    with pytest.raises(ConfigurationError, match="TASKHUB_NAME must start with a letter") as raised:
        task_hub_name({"TASKHUB_NAME": name})
    assert raised.value.setting == "TASKHUB_NAME"


LOAD_APP = """
import collections.abc, json, os

class RecordingEnviron(collections.abc.MutableMapping):
    def __init__(self, real):
        self.real, self.reads = real, set()
    def __getitem__(self, name):
        self.reads.add(name)
        return self.real[name]
    def __contains__(self, name):
        self.reads.add(name)
        return name in self.real
    def get(self, name, default=None):
        self.reads.add(name)
        return self.real.get(name, default)
    def __setitem__(self, name, value):
        self.real[name] = value
    def __delitem__(self, name):
        del self.real[name]
    def __iter__(self):
        return iter(self.real)
    def __len__(self):
        return len(self.real)

recording = os.environ = RecordingEnviron(os.environ)
import function_app
indexed = function_app.app.get_functions()
functions = {f.get_function_name(): [json.loads(b) for b in f.get_raw_bindings()] for f in indexed}
print(json.dumps({"reads": sorted(recording.reads), "functions": functions}))
"""


def load_app_in_a_clean_process(env: dict[str, str]) -> dict:
    """Import function_app in a new interpreter with only `env` set; the settings it read and what it indexed."""
    clean = {"PATH": os.environ.get("PATH", ""), **env}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_APP], cwd=REPO_ROOT, env=clean, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    loaded["reads"] = sorted(set(loaded["reads"]) & readme_settings())
    loaded["stderr"] = done.stderr
    return loaded


def readme_settings() -> set[str]:
    """The setting names in the README's Configuration table."""
    section = (REPO_ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", section, flags=re.MULTILINE))


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
