"""Every role the app's identity needs is assigned at the resource it is for, and the deploying user gets the same
data roles; a role dropped from a template fails here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.infra.templates import RBAC, broken_copy, evaluate, load_templates, loop, resource_body, resources_of

APP = "appPrincipalId"
USER = "userPrincipalId"
# Role -> (its built-in definition id, the resource type it must be assigned on).
REQUIRED_ROLES = {
    "Storage Blob Data Owner": ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Microsoft.Storage/storageAccounts"),
    "Storage Queue Data Contributor": ("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Microsoft.Storage/storageAccounts"),
    "Storage Table Data Contributor": ("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "Microsoft.Storage/storageAccounts"),
    "Storage Blob Delegator": ("db58b8e5-c6ad-4a2a-8342-4190687cbf4a", "Microsoft.Storage/storageAccounts"),
    "Monitoring Metrics Publisher": ("3913510d-42f4-4e42-8a64-420c390055eb", "Microsoft.Insights/components"),
    "Durable Task Data Contributor": ("0ad04412-c4d5-4796-b79c-f76d14c8d402", "Microsoft.DurableTask/schedulers"),
    "Key Vault Secrets User": ("4633458b-17de-408a-b874-0445c86b69e6", "Microsoft.KeyVault/vaults"),
    "Cognitive Services OpenAI User": ("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", "Microsoft.CognitiveServices/accounts"),
}


def role_assignments(templates: Mapping[str, Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """(role definition id, scope resource type, principal parameter) of every role assignment in the templates."""
    found = set()
    for file, _, resource in resources_of(templates, "Microsoft.Authorization/roleAssignments"):
        template = templates[file]
        body = resource_body(resource)
        scope_symbol = body["scope"]
        scope_type = template["resources"][scope_symbol]["type"]
        variables = {"__variables__": template.get("variables", {})}
        role_node = body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        looped = loop(resource)
        if looped:
            item, array = looped
            # A loop over a conditional list (the user's roles) is read with its condition true.
            entries = evaluate(template["variables"][array]["value"], {**variables, "hasUser": True})
            role_ids = [evaluate(role_node, {**variables, item: entry}) for entry in entries]
        else:
            role_ids = [evaluate(role_node, variables)]
        principal = body["properties"]["principalId"]
        found |= {(role_id, scope_type, principal) for role_id in role_ids}
    return found


@pytest.mark.parametrize("role", REQUIRED_ROLES)
def test_the_apps_identity_has_the_role_on_its_resource(role):
    role_id, scope_type = REQUIRED_ROLES[role]
    assert (role_id, scope_type, APP) in role_assignments(load_templates())


@pytest.mark.parametrize("role", REQUIRED_ROLES)
def test_the_deploying_user_has_the_same_role(role):
    role_id, scope_type = REQUIRED_ROLES[role]
    assert (role_id, scope_type, USER) in role_assignments(load_templates())


def test_no_role_is_assigned_beyond_the_ones_listed():
    expected = {(role_id, scope, who) for role_id, scope in REQUIRED_ROLES.values() for who in (APP, USER)}
    assert role_assignments(load_templates()) == expected


def test_the_app_identity_is_a_service_principal_and_the_user_any_principal():
    templates = load_templates()
    for file, name, resource in resources_of(templates, "Microsoft.Authorization/roleAssignments"):
        properties = resource_body(resource)["properties"]
        if properties["principalId"] == APP:
            assert properties.get("principalType") == "ServicePrincipal", f"{file}: {name}"
        else:
            # azd up deploys as a user, the CI workflow as a service principal: one fixed type would fail the other.
            assert "principalType" not in properties, f"{file}: {name}"


def test_the_openai_role_is_assigned_only_when_an_account_is_given():
    main = load_templates()["main.bicep"]
    module = main["modules"]["openAi"]
    assert module["config"]["condition"] == "hasOpenAi"
    assert main["variables"]["hasOpenAi"]["value"] == {
        "operator": {
            "type": "not",
            "operands": {
                "bool_value": {"function": {"type": "empty", "parameters": {"item_to_test": "azureOpenAiResourceId"}}}
            },
        }
    }


def test_a_role_dropped_from_the_storage_roles_fails(tmp_path):
    copy = broken_copy(tmp_path, RBAC, "  roles.storageBlobDelegator\n]", "]")
    delegator, storage = REQUIRED_ROLES["Storage Blob Delegator"]
    assignments = role_assignments(load_templates(copy))
    assert (delegator, storage, APP) not in assignments
    assert (delegator, storage, USER) not in assignments


def test_a_role_assigned_at_the_wrong_scope_fails(tmp_path):
    wrong = (
        "  scope: keyVault\n  properties: {\n    roleDefinitionId: subscriptionResourceId("
        "'Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)\n    principalId: appPrincipalId"
    )
    right = wrong.replace("scope: keyVault", "scope: appInsights")
    copy = broken_copy(tmp_path, RBAC, right, wrong)
    publisher, component = REQUIRED_ROLES["Monitoring Metrics Publisher"]
    assert (publisher, component, APP) not in role_assignments(load_templates(copy))
