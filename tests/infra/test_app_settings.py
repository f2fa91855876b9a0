"""The app settings a deployment gives the function app, checked against the app's own readers: every required setting
is set, the app reads them without a problem, and every setting the Bicep sets is one something reads."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from soraflow import config
from soraflow.errors import ConfigurationError
from soraflow.run_index import RunIndex
from soraflow.storage.connection import resolve_connection
from tests.infra.templates import (
    API,
    REPO_ROOT,
    Unresolved,
    broken_copy,
    deployed_app_settings,
    load_templates,
    resources_of,
)

SORA = {"soraEndpoint": "https://example-resource.openai.azure.com"}
OPENAI_ACCOUNT = "/subscriptions/s/resourceGroups/ai/providers/Microsoft.CognitiveServices/accounts/a"
# Read by the Functions host, its extensions or the Python worker rather than by soraflow's code.
PLATFORM_SETTINGS = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING",
}
PLATFORM_PREFIXES = ("AzureWebJobsStorage__", "AzureFunctionsJobHost__")
# Provider settings the deploy issue wires before the provider plug-ins read them; a name leaves this set once the app
# reads it (then the source search below finds it).
AGREED_AHEAD_OF_THE_APP: set[str] = set()


def configuration_problems(settings: Mapping[str, str]) -> list[str]:
    """The settings the app's readers refuse in `settings`, each as the setting's name."""
    problems = []
    readers = [
        config.Settings.from_env,
        config.task_hub_name,
        lambda env: resolve_connection("AzureWebJobsStorage", env),
        lambda env: resolve_connection("VIDEO_STORAGE", env).create_table_service_client(),
        lambda env: RunIndex.from_env(env).table,
    ]
    for read in readers:
        try:
            read(settings)
        except ConfigurationError as error:
            problems.append(error.setting)
    problems += [problem.setting for problem in config.request_trigger(settings).problems]
    return problems


def readme_required_settings() -> set[str]:
    """The settings the README's Configuration table marks `required`."""
    section = (REPO_ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z][A-Za-z0-9_]+)` \| required \|", section, flags=re.MULTILINE))


def app_source_text() -> str:
    folders = ("soraflow", "triggers", "orchestrators", "activities", "entities")
    files = [REPO_ROOT / "function_app.py", REPO_ROOT / "host.json"]
    files += [p for folder in folders for p in (REPO_ROOT / folder).rglob("*.py")]
    return "\n".join(p.read_text() for p in files)


@pytest.mark.parametrize(
    "parameters",
    [
        SORA,
        {**SORA, "durableBackend": "azureStorage"},
        {"azureOpenAiResourceId": OPENAI_ACCOUNT},
        {**SORA, "videoProvider": "sora-jobs", "soraApiKey": "a-key", "soraModel": "my-sora-deployment"},
    ],
    ids=["scheduler", "azure-storage-backend", "azure-openai-account", "jobs-api-with-key"],
)
def test_the_app_reads_a_deployments_settings_without_a_problem(parameters):
    settings = deployed_app_settings(parameters)
    assert configuration_problems(settings) == []
    assert config.request_trigger(settings).source == "EventGrid"
    storage = resolve_connection("VIDEO_STORAGE", settings)
    assert storage.uses_identity and storage.client_id == settings["AZURE_CLIENT_ID"]
    assert storage.table_url is not None


def test_a_sora_deployment_without_an_endpoint_or_account_is_named_by_the_app():
    # Nothing to derive SORA_ENDPOINT from: the app's readiness names it rather than the deployment guessing one.
    settings = deployed_app_settings()
    assert "SORA_ENDPOINT" not in settings
    assert configuration_problems(settings) == ["SORA_ENDPOINT"]


def test_every_setting_the_readme_requires_is_set():
    required = readme_required_settings()
    assert {"AzureWebJobsStorage", "TASKHUB_NAME", "SORA_ENDPOINT", "VIDEO_STORAGE"} <= required
    settings = deployed_app_settings(SORA)
    for name in required:
        assert name in settings or any(key.startswith(f"{name}__") for key in settings), name


def test_every_setting_the_bicep_sets_is_read_by_the_app_or_the_platform():
    source = app_source_text()
    readme = (REPO_ROOT / "README.md").read_text()
    everything = deployed_app_settings({**SORA, "soraApiKey": "k", "falKey": "k", "vertexCredentials": "{}"})
    everything |= deployed_app_settings({**SORA, "durableBackend": "azureStorage", "videoProvider": "sora-jobs"})
    for name in everything:
        if name in PLATFORM_SETTINGS or name.startswith(PLATFORM_PREFIXES) or name in AGREED_AHEAD_OF_THE_APP:
            continue
        base = name.split("__", 1)[0]
        assert f'"{base}"' in source or f"`{base}`" in readme, f"nothing reads {name}"


def test_the_bicep_defaults_are_the_apps_defaults():
    parameters = load_templates()["main.bicep"]["parameters"]
    assert parameters["videoOutputContainer"]["default"] == config.DEFAULT_OUTPUT_CONTAINER
    assert parameters["videoRequestContainer"]["default"] == config.DEFAULT_REQUEST_CONTAINER
    assert parameters["runIndexTable"]["default"] == config.DEFAULT_RUN_INDEX_TABLE
    assert config.task_hub_name({"TASKHUB_NAME": parameters["taskHubName"]["default"]}) == "soraflow"


def test_secrets_are_referenced_from_key_vault_only_when_given():
    assert not {"SORA_API_KEY", "FAL_KEY", "VERTEX_CREDENTIALS"} & set(deployed_app_settings(SORA))
    secret = "sk-live-do-not-leak"
    settings = deployed_app_settings({**SORA, "soraApiKey": secret, "falKey": secret, "vertexCredentials": secret})
    assert all(secret not in value for value in settings.values())
    stored = {
        resource["config"]["config"]["name"]
        for _, _, resource in resources_of(load_templates(), "Microsoft.KeyVault/vaults/secrets")
    }
    for setting in ("SORA_API_KEY", "FAL_KEY", "VERTEX_CREDENTIALS"):
        reference = re.fullmatch(r"@Microsoft\.KeyVault\(VaultName=[^;]+;SecretName=([a-z-]+)\)", settings[setting])
        assert reference and reference.group(1) in stored, settings[setting]


def test_the_scheduler_backend_overrides_host_json_with_an_identity_connection():
    settings = deployed_app_settings(SORA)
    prefix = "AzureFunctionsJobHost__extensions__durableTask__storageProvider__"
    assert settings[f"{prefix}type"] == "azureManaged"
    assert settings[f"{prefix}connectionStringName"] == "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"
    parts = dict(part.split("=", 1) for part in settings["DURABLE_TASK_SCHEDULER_CONNECTION_STRING"].split(";"))
    assert parts["Authentication"] == "ManagedIdentity"
    # Deployment-time values read as labels inside a string: the scheduler's endpoint, the identity's client id.
    assert parts["Endpoint"] == "scheduler-outputs-endpoint"
    assert parts["ClientID"] == "identity-outputs-clientid"
    assert settings["AZURE_CLIENT_ID"] == Unresolved("identity.outputs.clientId")


def test_the_azure_storage_backend_keeps_host_json_and_polls_at_most_ten_seconds_apart():
    settings = deployed_app_settings({**SORA, "durableBackend": "azureStorage"})
    assert "DURABLE_TASK_SCHEDULER_CONNECTION_STRING" not in settings
    prefix = "AzureFunctionsJobHost__extensions__durableTask__storageProvider__"
    assert f"{prefix}type" not in settings
    hours, minutes, seconds = map(int, settings[f"{prefix}maxQueuePollingInterval"].split(":"))
    assert hours == minutes == 0 and seconds <= 10


def test_a_template_that_drops_the_task_hub_fails_the_cross_check(tmp_path):
    copy = broken_copy(tmp_path, API, "  TASKHUB_NAME: taskHubName\n", "")
    assert configuration_problems(deployed_app_settings(SORA, root=copy)) == ["TASKHUB_NAME"]


def test_a_template_that_drops_the_table_endpoint_fails_the_cross_check(tmp_path):
    copy = broken_copy(tmp_path, API, "  VIDEO_STORAGE__tableServiceUri: tableEndpoint\n", "")
    assert configuration_problems(deployed_app_settings(SORA, root=copy)) == ["VIDEO_STORAGE"]
