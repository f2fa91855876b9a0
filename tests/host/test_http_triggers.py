"""HTTP triggers on the local host: routing, conversion, sync/async, failures, auth levels, settings."""

from __future__ import annotations

import uuid

from tests.host.conftest import DEFAULT_KEY, MASTER_KEY, RunningHost

APP = "http_basics"
HOST_ENV = {"ALREADY_SET": "from the environment", "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "4096"}
HOST_ARGS = ["--enable-auth"]  # the auth-level tests need keys checked; the default is `func start`'s: not checked


def test_route_parameter_with_int_constraint_reaches_the_function(module_host: RunningHost):
    response = module_host.request("GET", "/v1/items/42")
    assert response.status_code == 200
    assert response.json()["handler"] == "item_by_number"
    assert response.json()["route"] == {"id": "42"}


def test_literal_segment_wins_over_parameters(module_host: RunningHost):
    assert module_host.request("GET", "/v1/items/latest").json()["handler"] == "latest_item"


def test_a_value_failing_every_constraint_is_not_found(module_host: RunningHost):
    assert module_host.request("GET", "/v1/items/abc1").status_code == 404
    assert module_host.request("GET", "/v1/items/99999999999").status_code == 404


def test_alpha_constraint_routes_words_elsewhere(module_host: RunningHost):
    response = module_host.request("GET", "/v1/items/apples")
    assert response.json()["handler"] == "item_by_name"
    assert response.json()["route"] == {"name": "apples"}


def test_optional_parameter_may_be_left_out(module_host: RunningHost):
    assert module_host.request("GET", "/v1/pages").json()["route"] == {}
    assert module_host.request("GET", "/v1/pages/3").json()["route"] == {"page": "3"}
    assert module_host.request("GET", "/v1/pages/three").status_code == 404


def test_catch_all_takes_the_rest_of_the_path(module_host: RunningHost):
    response = module_host.request("GET", "/v1/files/a/b/c.txt")
    assert response.json()["route"] == {"path": "a/b/c.txt"}


def test_guid_and_range_constraints(module_host: RunningHost):
    thing = str(uuid.uuid4())
    assert module_host.request("GET", f"/v1/things/{thing}/parts/3").json()["route"] == {"id": thing, "part": "3"}
    assert module_host.request("GET", f"/v1/things/{thing}/parts/10").status_code == 404
    assert module_host.request("GET", "/v1/things/not-a-guid/parts/3").status_code == 404


def test_methods_are_enforced(module_host: RunningHost):
    assert module_host.request("PUT", "/v1/items/apples").status_code == 200
    assert module_host.request("POST", "/v1/items/42").status_code == 404


def test_route_defaults_to_the_function_name(module_host: RunningHost):
    assert module_host.request("POST", "/v1/default_route").json()["handler"] == "default_route"


def test_route_prefix_comes_from_host_json(module_host: RunningHost):
    assert module_host.request("GET", "/api/items/42").status_code == 404
    assert module_host.request("GET", "/items/42").status_code == 404


def test_request_conversion_keeps_headers_query_and_body(module_host: RunningHost):
    response = module_host.request(
        "POST",
        "/v1/sync-echo?color=red&size=1&size=2",
        content=b'{"hello": "world"}',
        headers={"X-Custom": "value", "Content-Type": "application/json"},
    )
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["query"] == {"color": "red", "size": "1,2"}
    assert echoed["headers"]["x-custom"] == "value"
    assert echoed["body"] == '{"hello": "world"}'
    assert echoed["url"].startswith(module_host.url + "/v1/sync-echo")
    assert response.headers["x-echo"] == "yes"
    assert response.headers["content-type"].startswith("application/json")


def test_async_functions_run_on_the_loop_and_sync_ones_in_the_pool(module_host: RunningHost):
    async_thread = module_host.request("POST", "/v1/async-echo").json()["loop_thread"]
    sync_thread = module_host.request("POST", "/v1/sync-echo").json()["loop_thread"]
    assert async_thread == "MainThread"
    assert sync_thread.startswith("http")


def test_plain_return_values_and_status_codes(module_host: RunningHost):
    plain = module_host.request("GET", "/v1/plain")
    assert (plain.status_code, plain.text) == (200, "just a string")
    teapot = module_host.request("GET", "/v1/status/418")
    assert teapot.status_code == 418
    assert teapot.headers["set-cookie"] == "a=1"


def test_an_unhandled_exception_is_a_500_and_a_log_line_not_a_crash(module_host: RunningHost):
    assert module_host.request("GET", "/v1/boom").status_code == 500
    assert module_host.request("GET", "/v1/async-boom").status_code == 500
    assert module_host.request("GET", "/v1/plain").status_code == 200
    log = module_host.log()
    assert "Executed 'Functions.boom' (Failed" in log
    assert "RuntimeError: the function failed on purpose" in log
    assert "ValueError: the async function failed on purpose" in log


def test_core_tools_style_log_lines(module_host: RunningHost):
    module_host.request("GET", "/v1/plain")
    log = module_host.log()
    assert "Executing 'Functions.plain' (Reason='This function was programmatically called" in log
    assert "Executed 'Functions.plain' (Succeeded, Id=" in log
    assert "item_by_number: [GET]" in log and "/v1/items/{id:int}" in log


def test_function_level_needs_a_key(module_host: RunningHost):
    path = "/v1/secure/function"
    assert module_host.request("GET", path).status_code == 401
    assert module_host.request("GET", path, params={"code": "wrong"}).status_code == 401
    assert module_host.request("GET", path, params={"code": DEFAULT_KEY}).text == "function level ok"
    assert module_host.request("GET", path, headers={"x-functions-key": DEFAULT_KEY}).status_code == 200
    assert module_host.request("GET", path, params={"code": MASTER_KEY}).status_code == 200


def test_admin_level_needs_the_master_key(module_host: RunningHost):
    path = "/v1/secure/admin"
    assert module_host.request("GET", path, params={"code": DEFAULT_KEY}).status_code == 401
    assert module_host.request("GET", path, params={"code": MASTER_KEY}).text == "admin level ok"


def test_local_settings_values_become_settings_without_overriding_the_environment(module_host: RunningHost):
    values = module_host.request("GET", "/v1/settings").json()
    assert values == {"GREETING": "hello from local.settings.json", "ALREADY_SET": "from the environment"}


def test_a_binding_naming_an_unset_setting_leaves_only_that_function_out(module_host: RunningHost):
    assert "Error indexing method 'Functions.broken_binding'" in module_host.log()
    assert "(set NOT_SET_ANYWHERE)" in module_host.log()
    assert module_host.request("GET", "/v1/plain").status_code == 200


def test_host_json_settings_references_resolve(module_host: RunningHost):
    urls = module_host.request("GET", "/v1/client-urls").json()
    assert "taskHub=BasicsHub" in urls["statusQueryGetUri"]
    assert urls["statusQueryGetUri"].startswith(module_host.url + "/runtime/webhooks/durabletask/instances/some-id")


def test_oversized_body_is_rejected_before_the_function(module_host: RunningHost):
    calls_before = module_host.log().count("Executing 'Functions.default_route'")
    response = module_host.request("POST", "/v1/default_route", content=b"x" * 5000)
    assert response.status_code == 413
    assert module_host.request("POST", "/v1/default_route", content=b"x" * 4000).status_code == 200
    assert module_host.log().count("Executing 'Functions.default_route'") == calls_before + 1


def test_hostile_paths_do_not_escape_routing(module_host: RunningHost):
    assert module_host.request("GET", "/v1/items/1%2F2").status_code == 404
    assert module_host.request("GET", "/v1/items/%00").status_code == 404
    assert module_host.request("GET", "/v1/" + "a" * 5000).status_code == 404
    traversal = module_host.request("GET", "/v1/files/..%2F..%2Fetc/passwd").json()
    assert traversal["handler"] == "files"  # a catch-all value is data for the function, never a file path


def test_admin_status_needs_the_master_key(module_host: RunningHost):
    assert module_host.request("GET", "/admin/host/status").status_code == 401
    status = module_host.request("GET", "/admin/host/status", params={"code": MASTER_KEY}).json()
    assert status["state"] == "Running"
    assert "item_by_number" in status["functions"]


def test_keys_come_from_the_keys_file_when_no_setting_names_them(start_host, tmp_path):
    keys_file = tmp_path / "my-keys.json"
    keys_file.write_text(
        '{"masterKey": "file-master", "functionKeys": {"default": "file-default"},'
        ' "functions": {"secure_function": {"partner": "only-for-this-function"}}}'
    )
    no_settings = {"FUNCTIONS_DEFAULT_KEY": "", "FUNCTIONS_MASTER_KEY": ""}
    host = start_host(APP, env=no_settings, args=["--enable-auth", "--keys-file", str(keys_file)])
    assert host.request("GET", "/v1/secure/function", params={"code": "file-default"}).status_code == 200
    assert host.request("GET", "/v1/secure/function", params={"code": "only-for-this-function"}).status_code == 200
    assert host.request("GET", "/v1/secure/admin", params={"code": "only-for-this-function"}).status_code == 401
    assert host.request("GET", "/v1/secure/admin", params={"code": "file-master"}).status_code == 200
    assert host.request("GET", "/v1/secure/function", params={"code": DEFAULT_KEY}).status_code == 401
    assert "Function key (default): file... from FUNCTIONS_DEFAULT_KEY or" in host.log()
    assert "file-default" not in host.log()  # a log keeps no key, only where to find it


def test_keys_are_not_checked_unless_enable_auth_is_given_like_func_start(start_host, module_host: RunningHost):
    default = start_host(APP)
    assert default.request("GET", "/v1/secure/function").text == "function level ok"
    assert default.request("GET", "/v1/secure/admin").status_code == 200
    assert default.request("GET", "/admin/host/status").status_code == 200
    assert "Keys are not checked (start with --enable-auth to check them)" in default.log()
    assert module_host.request("GET", "/v1/secure/function").status_code == 401  # started with --enable-auth


def test_the_old_no_auth_flag_is_still_accepted_and_checks_no_keys(start_host):
    host = start_host(APP, args=["--no-auth"])
    assert host.request("GET", "/v1/secure/function").status_code == 200
