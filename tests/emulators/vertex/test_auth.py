"""Auth: `Authorization: Bearer <token>` (with --api-key it must equal it); 401 and 403 bodies as Google sends them."""

from __future__ import annotations

import httpx
import pytest

from tests.emulators.vertex.conftest import PROJECT, Harness, error_of, model_path

BODY = {"instances": [{"prompt": "a kite"}], "parameters": {"durationSeconds": 4}}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic dTpw"}])
def test_a_call_without_a_bearer_token_is_unauthenticated(vertex: Harness, headers: dict):
    response = httpx.post(vertex.url + model_path("predictLongRunning"), json=BODY, headers=headers)
    error = error_of(response, 401)
    assert error["status"] == "UNAUTHENTICATED"
    assert error["message"].startswith("Request is missing required authentication credential.")
    assert error["details"][0]["reason"] == "CREDENTIALS_MISSING"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="https://accounts.google.com/"'
    assert vertex.admin("GET", "status").json()["active_jobs"] == 0


def test_a_wrong_token_is_unauthenticated(vertex: Harness):
    headers = {"Authorization": "Bearer ya29.not-the-token"}
    response = httpx.post(vertex.url + model_path("predictLongRunning"), json=BODY, headers=headers)
    error = error_of(response, 401)
    assert error["status"] == "UNAUTHENTICATED"
    assert error["message"].startswith("Request had invalid authentication credentials.")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    [create] = vertex.requests(operation="create")
    assert (create["status"], create["job_id"]) == (401, None)


def test_another_project_is_permission_denied(vertex: Harness):
    response = vertex.http.post(model_path("predictLongRunning", project="someone-else"), json=BODY)
    error = error_of(response, 403)
    assert error["status"] == "PERMISSION_DENIED"
    assert "aiplatform.endpoints.predict" in error["message"] and "someone-else" in error["message"]
    [info] = error["details"]
    assert (info["reason"], info["metadata"]["permission"]) == ("IAM_PERMISSION_DENIED", "aiplatform.endpoints.predict")
    assert vertex.http.post(model_path("predictLongRunning", project=PROJECT), json=BODY).status_code == 200


def test_cloud_storage_downloads_need_the_token_too(vertex: Harness):
    response = httpx.get(vertex.url + "/storage/v1/b/bucket/o/x.mp4", params={"alt": "media"})
    assert error_of(response, 401)["details"][0]["metadata"]["service"] == "storage.googleapis.com"


def test_the_admin_api_needs_no_token(vertex: Harness):
    assert httpx.get(vertex.url + "/_emulator/status").status_code == 200
