"""azure.yaml deploys the repo root as a Python function app and runs the agreed postdeploy scripts;
main.parameters.json maps azd's environment onto main.bicep's parameters with the same defaults."""

import json
import re

import pytest
import yaml

from tests.infra.templates import INFRA, REPO_ROOT, load_templates

AZURE_YAML = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text())
PARAMETERS = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
HOOK_SCRIPTS = {"posix": "./scripts/postdeploy.sh", "windows": "./scripts/postdeploy.ps1"}


def test_the_api_service_is_the_repo_root_as_a_python_function_app():
    assert AZURE_YAML["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}


def test_the_postdeploy_hook_runs_the_agreed_scripts_and_stops_on_failure():
    hook = AZURE_YAML["hooks"]["postdeploy"]
    assert {platform: hook[platform]["run"] for platform in hook} == HOOK_SCRIPTS
    assert hook["posix"]["shell"] == "sh" and hook["windows"]["shell"] == "pwsh"
    assert all(step["continueOnError"] is False for step in hook.values())


@pytest.mark.parametrize("platform", HOOK_SCRIPTS)
def test_every_hook_script_exists(platform):
    if not (REPO_ROOT / "scripts").is_dir():
        pytest.skip("scripts/ (the postdeploy hook) comes from the deploy-ops branch; enforced once it is merged")
    assert (REPO_ROOT / HOOK_SCRIPTS[platform]).is_file()


def test_the_site_is_tagged_with_the_service_name_azd_deploys_to():
    site = load_templates()["app/api.bicep"]["modules"]["site"]["config"]["params"]
    # pycep keeps a quoted key's quotes.
    [service] = AZURE_YAML["services"]
    assert site["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": service}


def test_every_mapped_parameter_is_declared_and_every_required_one_is_mapped():
    declared = load_templates()["main.bicep"]["parameters"]
    assert set(PARAMETERS) <= set(declared)
    required = {name for name, parameter in declared.items() if "default" not in parameter}
    assert required <= set(PARAMETERS)


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_an_azd_default_is_the_bicep_default(name):
    match = re.fullmatch(r"\$\{(\w+)(?:=(.*))?\}", PARAMETERS[name]["value"])
    assert match, f"{name} is not mapped from an azd environment value"
    if match.group(2) is None:
        return  # azd always sets it (AZURE_ENV_NAME, AZURE_LOCATION, AZURE_PRINCIPAL_ID)
    default = load_templates()["main.bicep"]["parameters"][name]["default"]
    assert match.group(2) == (str(default).lower() if isinstance(default, bool) else str(default))


def test_the_agreed_outputs_exist_for_the_postdeploy_hook():
    outputs = load_templates()["main.bicep"]["outputs"]
    agreed = {
        "AZURE_RESOURCE_GROUP",
        "AZURE_FUNCTION_APP_NAME",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "EVENT_GRID_SYSTEM_TOPIC_NAME",
        "VIDEO_REQUEST_CONTAINER",
        "AZURE_LOCATION",
        "AZURE_KEY_VAULT_NAME",
        "SERVICE_API_NAME",
        "DURABLE_TASK_SCHEDULER_ENDPOINT",
    }
    assert agreed <= set(outputs)
