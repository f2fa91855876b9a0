"""The users' deploy workflow: valid against GitHub's workflow schema offline, and shaped as azd templates ship it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from emulators.processes import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "azure-dev.yml"
PARAMETERS = REPO_ROOT / "infra" / "main.parameters.json"
# azd sets these itself from the login and the environment; the workflow need not pass them.
SET_BY_AZD = {"AZURE_PRINCIPAL_ID"}


def schema_check(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with the GitHub workflow schema it ships in its wheel (no download)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def workflow() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text())


def steps() -> list[dict]:
    [job] = workflow()["jobs"].values()
    return job["steps"]


def test_the_workflow_is_valid_against_the_github_workflow_schema():
    done = schema_check(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_fails_on_a_broken_workflow(tmp_path):
    broken = tmp_path / "azure-dev.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    done = schema_check(broken)
    assert done.returncode == 1
    assert "runs-on" in done.stdout


def test_the_job_may_ask_for_an_oidc_token_and_only_read_the_repository():
    assert workflow()["permissions"] == {"id-token": "write", "contents": "read"}


def test_azd_and_the_azure_cli_log_in_with_the_federated_credential_and_no_secret():
    login = [s for s in steps() if "azd auth login" in s.get("run", "")]
    assert len(login) == 1
    assert re.search(r"--federated-credential-provider\s+github", login[0]["run"])
    [cli] = [s for s in steps() if s.get("uses", "").startswith("azure/login@")]
    assert set(cli["with"]) == {"client-id", "tenant-id", "subscription-id"}
    text = WORKFLOW.read_text()
    assert "client-secret" not in text and "creds:" not in text and "AZURE_CREDENTIALS" not in text


def position(predicate) -> int:
    return next(i for i, step in enumerate(steps()) if predicate(step))


def test_the_job_installs_azd_logs_in_then_provisions_then_deploys_without_prompts():
    runs = [s["run"].strip() for s in steps() if s.get("run", "").strip().startswith("azd ")]
    assert [r for r in runs if not r.startswith("azd auth login")] == [
        "azd provision --no-prompt",
        "azd deploy --no-prompt",
    ]
    install = position(lambda s: s.get("uses", "").startswith("Azure/setup-azd@"))
    cli_login = position(lambda s: s.get("uses", "").startswith("azure/login@"))
    azd_login = position(lambda s: "azd auth login" in s.get("run", ""))
    provision = position(lambda s: s.get("run", "").startswith("azd provision"))
    # The postdeploy hook, run by azd deploy, calls az: the CLI must be logged in before azd starts.
    assert install < azd_login < provision and cli_login < provision


def test_every_parameter_the_bicep_reads_from_the_environment_is_passed():
    if not PARAMETERS.exists():
        pytest.skip("infra/main.parameters.json comes with the infra/ Bicep (a separate change)")
    wanted = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", PARAMETERS.read_text())) - SET_BY_AZD
    [job] = workflow()["jobs"].values()
    assert wanted - set(job["env"]) == set()


def test_provider_secrets_come_from_repository_secrets_not_variables():
    [job] = workflow()["jobs"].values()
    for name in ("SORA_API_KEY", "FAL_KEY", "VERTEX_CREDENTIALS"):
        assert job["env"][name] == f"${{{{ secrets.{name} }}}}"
