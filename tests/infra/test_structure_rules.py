"""Structural rules the templates must keep: no shared keys, a Flex FC1 plan deploying with its identity, Entra-only
telemetry, an RBAC-only Key Vault, the Event Grid topic, the scheduler's allow-list and pinned modules. Each rule
returns what breaks it, so a deliberately broken copy proves the rule can fail."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.infra.templates import (
    API,
    INFRA,
    MAIN,
    bicep_files,
    broken_copy,
    load_templates,
    modules_from,
    resource_body,
    resources_of,
)

Templates = Mapping[str, Mapping[str, Any]]
# The AVM versions Azure-Samples/functions-quickstart-python-azd-eventgrid-blob pins (infra/main.bicep there).
PINNED_AVM = {
    "avm/res/managed-identity/user-assigned-identity": "0.4.1",
    "avm/res/web/serverfarm": "0.1.1",
    "avm/res/web/site": "0.15.1",
    "avm/res/storage/storage-account": "0.8.3",
    "avm/res/operational-insights/workspace": "0.11.1",
    "avm/res/insights/component": "0.6.0",
    "avm/res/event-grid/system-topic": "0.6.1",
    "avm/res/network/virtual-network": "0.6.1",
    "avm/res/network/private-endpoint": "0.11.0",
    "avm/res/network/private-dns-zone": "0.7.1",
}
# Settings Flex Consumption rejects or ignores: the runtime lives in functionAppConfig, the package in its container.
FLEX_DEPRECATED_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "AzureWebJobsStorage",
}


def shared_key_violations(templates: Templates) -> list[str]:
    found = []
    for file, template in templates.items():
        for name, module in modules_from(template, "avm/res/storage/storage-account").items():
            if resource_body(module)["params"].get("allowSharedKeyAccess") is not False:
                found.append(f"{file}: module {name} does not set allowSharedKeyAccess: false")
    for file, name, resource in resources_of(templates, "Microsoft.Storage/storageAccounts"):
        if resource_body(resource).get("properties", {}).get("allowSharedKeyAccess") is not False:
            found.append(f"{file}: storage account {name} does not set allowSharedKeyAccess: false")
    return found


def account_key_reads(root) -> list[str]:
    """Any template text that reads or builds a key-based connection."""
    pattern = re.compile(r"listKeys\(|AccountKey=|SharedAccessSignature=|InstrumentationKey=", re.IGNORECASE)
    return [f"{p.relative_to(root)}: {m.group(0)}" for p in bicep_files(root) for m in pattern.finditer(p.read_text())]


def plan_violations(templates: Templates) -> list[str]:
    plans = modules_from(templates[MAIN], "avm/res/web/serverfarm")
    if len(plans) != 1:
        return [f"expected one plan, found {len(plans)}"]
    params = resource_body(next(iter(plans.values())))["params"]
    found = []
    if params.get("sku") != {"name": "FC1", "tier": "FlexConsumption"}:
        found.append(f"plan sku is {params.get('sku')}, not FC1/FlexConsumption")
    if params.get("reserved") is not True:
        found.append("plan is not reserved (Linux)")
    return found


def deployment_storage_violations(templates: Templates) -> list[str]:
    [site] = modules_from(templates[API], "avm/res/web/site").values()
    params = resource_body(site)["params"]
    storage = params["functionAppConfig"]["deployment"]["storage"]
    found = []
    if storage.get("type") != "blobContainer":
        found.append(f"deployment storage type is {storage.get('type')!r}")
    authentication = storage.get("authentication", {})
    if authentication.get("type") != "UserAssignedIdentity":
        found.append(f"deployment storage authentication is {authentication.get('type')!r}, not the identity")
    if authentication.get("userAssignedIdentityResourceId") != "identityId":
        found.append("deployment storage is not read with the app's identity (identityId)")
    if params["managedIdentities"] != {"systemAssigned": False, "userAssignedResourceIds": ["identityId"]}:
        found.append(f"the site's identities are {params['managedIdentities']}")
    if params.get("keyVaultAccessIdentityResourceId") != "identityId":
        found.append("Key Vault references would resolve with a system identity the site does not have")
    return found


def app_insights_violations(templates: Templates) -> list[str]:
    components = modules_from(templates[MAIN], "avm/res/insights/component")
    if not components:
        return ["no Application Insights component"]
    return [
        f"{name}: disableLocalAuth is not true"
        for name, module in components.items()
        if resource_body(module)["params"].get("disableLocalAuth") is not True
    ]


def key_vault_violations(templates: Templates) -> list[str]:
    vaults = list(resources_of(templates, "Microsoft.KeyVault/vaults"))
    if not vaults:
        return ["no Key Vault"]
    found = []
    for file, name, resource in vaults:
        properties = resource_body(resource)["properties"]
        if properties.get("enableRbacAuthorization") is not True:
            found.append(f"{file}: vault {name} does not use RBAC authorization")
        if properties.get("accessPolicies"):
            found.append(f"{file}: vault {name} has access policies")
    return found


def event_grid_violations(templates: Templates) -> list[str]:
    topics = modules_from(templates[MAIN], "avm/res/event-grid/system-topic")
    if len(topics) != 1:
        return [f"expected one Event Grid system topic, found {len(topics)}"]
    params = resource_body(next(iter(topics.values())))["params"]
    found = []
    if params.get("topicType") != "Microsoft.Storage.StorageAccounts":
        found.append(f"topic type is {params.get('topicType')!r}")
    if params.get("source") != {"operator": _accessor("storage", "outputs", "resourceId")}:
        found.append("the topic's source is not the storage account")
    return found


def scheduler_violations(templates: Templates) -> list[str]:
    schedulers = list(resources_of(templates, "Microsoft.DurableTask/schedulers"))
    hubs = list(resources_of(templates, "Microsoft.DurableTask/schedulers/taskHubs"))
    if len(schedulers) != 1 or len(hubs) != 1:
        return [f"expected one scheduler and one task hub, found {len(schedulers)} and {len(hubs)}"]
    file, _, scheduler = schedulers[0]
    properties = resource_body(scheduler)["properties"]
    found = []
    if properties.get("sku") != {"name": "Consumption"}:
        found.append(f"scheduler sku is {properties.get('sku')}")
    allowlist = properties.get("ipAllowlist")
    declared = templates[file]["parameters"].get(allowlist) if isinstance(allowlist, str) else None
    if declared is not None:
        minimum = [d for d in declared["decorators"] if d["type"] == "min_length"]
        if not minimum or minimum[0]["argument"] < 1:
            found.append(f"{file}: parameter {allowlist} may be empty, which refuses all traffic")
    elif not allowlist:
        found.append("the scheduler's ipAllowlist is empty, which refuses all traffic")
    main_default = templates[MAIN]["parameters"]["schedulerIpAllowlist"].get("default")
    if not main_default:
        found.append("main.bicep's schedulerIpAllowlist has an empty default")
    return found


def unpinned_modules(templates: Templates) -> list[str]:
    found = []
    for file, template in templates.items():
        for name, module in template.get("modules", {}).items():
            detail = module["detail"]
            if module["type"] == "local":
                continue
            wanted = PINNED_AVM.get(detail.get("path"))
            if not detail.get("public") or wanted is None:
                found.append(f"{file}: module {name} is {detail.get('full')}, not a known AVM module")
            elif detail.get("tag") != wanted:
                found.append(f"{file}: module {name} is {detail['path']}:{detail.get('tag')}, not the pinned {wanted}")
    return found


def flex_violations(templates: Templates) -> list[str]:
    [site] = modules_from(templates[API], "avm/res/web/site").values()
    params = resource_body(site)["params"]
    found = []
    if params["functionAppConfig"]["runtime"] != {"name": "python", "version": "3.11"}:
        found.append(f"runtime is {params['functionAppConfig']['runtime']}")
    settings_text = (INFRA / API).read_text()
    for name in FLEX_DEPRECATED_SETTINGS:
        if re.search(rf"^\s*{name}\s*:", settings_text, flags=re.MULTILINE):
            found.append(f"{API} sets {name}, which Flex Consumption does not take")
    return found


def _accessor(*names: str) -> dict:
    if len(names) == 2:
        return {"type": "property_accessor", "operands": {"operand_1": names[0], "operand_2": names[1]}}
    return {
        "type": "property_accessor",
        "operands": {"operand_1": names[0], "operand_2": {"operator": _accessor(*names[1:])}},
    }


# --- the rules hold on the checked-in templates ---


def test_no_storage_account_allows_shared_key_access():
    assert shared_key_violations(load_templates()) == []


def test_no_template_reads_an_account_key_or_builds_a_key_based_connection():
    assert account_key_reads(INFRA) == []


def test_the_plan_is_flex_consumption_fc1_on_linux():
    assert plan_violations(load_templates()) == []


def test_the_app_deploys_its_package_with_its_user_assigned_identity():
    assert deployment_storage_violations(load_templates()) == []


def test_application_insights_accepts_only_entra_tokens():
    assert app_insights_violations(load_templates()) == []


def test_the_key_vault_authorizes_with_rbac_only():
    assert key_vault_violations(load_templates()) == []


def test_the_event_grid_system_topic_publishes_the_storage_accounts_blob_events():
    assert event_grid_violations(load_templates()) == []


def test_the_scheduler_is_consumption_with_a_non_empty_ip_allow_list():
    assert scheduler_violations(load_templates()) == []


def test_every_registry_module_is_an_avm_module_at_its_pinned_version():
    assert unpinned_modules(load_templates()) == []


def test_the_app_runs_python_and_sets_no_setting_flex_consumption_rejects():
    assert flex_violations(load_templates()) == []


# --- and fail on a template that breaks them ---


def test_shared_key_access_left_on_breaks_the_rule(tmp_path):
    copy = broken_copy(tmp_path, MAIN, "allowSharedKeyAccess: false", "allowSharedKeyAccess: true")
    assert shared_key_violations(load_templates(copy)) == [
        "main.bicep: module storage does not set allowSharedKeyAccess: false"
    ]


def test_a_connection_string_with_a_listed_key_breaks_the_rule(tmp_path):
    key = "AzureWebJobsStorage__credential: 'managedidentity'"
    leaked = "AzureWebJobsStorage__credential: 'AccountKey=${storageAccount.listKeys().keys[0].value}'"
    copy = broken_copy(tmp_path, API, key, leaked)
    assert len(account_key_reads(copy)) == 2


def test_a_premium_plan_breaks_the_rule(tmp_path):
    copy = broken_copy(
        tmp_path, MAIN, "name: 'FC1'\n      tier: 'FlexConsumption'", "name: 'EP1'\n      tier: 'ElasticPremium'"
    )
    assert plan_violations(load_templates(copy)) == [
        "plan sku is {'name': 'EP1', 'tier': 'ElasticPremium'}, not FC1/FlexConsumption"
    ]


def test_a_system_assigned_deployment_identity_breaks_the_rule(tmp_path):
    copy = broken_copy(tmp_path, API, "type: 'UserAssignedIdentity'", "type: 'SystemAssignedIdentity'")
    assert deployment_storage_violations(load_templates(copy)) == [
        "deployment storage authentication is 'SystemAssignedIdentity', not the identity"
    ]


def test_instrumentation_key_telemetry_breaks_the_rule(tmp_path):
    copy = broken_copy(tmp_path, MAIN, "disableLocalAuth: true", "disableLocalAuth: false")
    assert app_insights_violations(load_templates(copy)) == ["appInsights: disableLocalAuth is not true"]


def test_access_policies_instead_of_rbac_break_the_rule(tmp_path):
    copy = broken_copy(
        tmp_path, "app/key-vault.bicep", "enableRbacAuthorization: true", "enableRbacAuthorization: false"
    )
    assert key_vault_violations(load_templates(copy)) == [
        "app/key-vault.bicep: vault vault does not use RBAC authorization"
    ]


def test_an_empty_scheduler_allow_list_breaks_the_rule(tmp_path):
    copy = broken_copy(
        tmp_path, MAIN, "param schedulerIpAllowlist array = ['0.0.0.0/0']", "param schedulerIpAllowlist array = []"
    )
    assert scheduler_violations(load_templates(copy)) == ["main.bicep's schedulerIpAllowlist has an empty default"]


def test_an_unpinned_module_version_breaks_the_rule(tmp_path):
    copy = broken_copy(tmp_path, MAIN, "avm/res/web/serverfarm:0.1.1", "avm/res/web/serverfarm:0.1.0")
    assert unpinned_modules(load_templates(copy)) == [
        "main.bicep: module plan is avm/res/web/serverfarm:0.1.0, not the pinned 0.1.1"
    ]
