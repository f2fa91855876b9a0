"""Resolving the VIDEO_STORAGE connection: both forms the Functions host accepts, and every way to get them wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest
from azure.identity import ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential

from soraflow.errors import ConfigurationError
from soraflow.storage import BlobStore, resolve_connection
from soraflow.storage.connection import DEV_ACCOUNT_KEY

KEY = "c2VjcmV0LWFjY291bnQta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFr"  # base64 of a made-up key


# --- connection strings -------------------------------------------------------------------------------------------


def test_use_development_storage_means_the_emulator_on_its_default_port():
    connection = resolve_connection(env={"VIDEO_STORAGE": "UseDevelopmentStorage=true"})
    assert connection.account_url == "http://127.0.0.1:10000/devstoreaccount1"
    assert connection.account_name == "devstoreaccount1"
    assert connection.account_key == DEV_ACCOUNT_KEY
    assert not connection.uses_identity


def test_an_azure_connection_string_builds_the_account_url():
    raw = f"DefaultEndpointsProtocol=https;AccountName=videosprod;AccountKey={KEY};EndpointSuffix=core.windows.net"
    connection = resolve_connection(env={"VIDEO_STORAGE": raw})
    assert connection.account_url == "https://videosprod.blob.core.windows.net"
    assert (connection.account_name, connection.account_key) == ("videosprod", KEY)


def test_a_sovereign_cloud_suffix_and_a_trailing_semicolon_are_honoured():
    raw = f"AccountName=videos;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn;"
    assert resolve_connection(env={"VIDEO_STORAGE": raw}).account_url == "https://videos.blob.core.chinacloudapi.cn"


def test_a_blob_endpoint_wins_over_the_account_name():
    raw = f"AccountName=devstoreaccount1;AccountKey={KEY};BlobEndpoint=http://127.0.0.1:41234/devstoreaccount1/"
    connection = resolve_connection(env={"VIDEO_STORAGE": raw})
    assert connection.account_url == "http://127.0.0.1:41234/devstoreaccount1"


def test_a_sas_connection_string_takes_the_account_from_the_endpoint():
    raw = "BlobEndpoint=https://videos.blob.core.windows.net;SharedAccessSignature=?sv=2022-11-02&sig=abc"
    connection = resolve_connection(env={"VIDEO_STORAGE": raw})
    assert connection.account_name == "videos"
    assert connection.sas_token == "sv=2022-11-02&sig=abc"
    assert connection.account_key is None


def test_key_names_are_case_insensitive_like_the_sdk():
    raw = f"accountname=videos;ACCOUNTKEY={KEY};defaultendpointsprotocol=http"
    connection = resolve_connection(env={"VIDEO_STORAGE": raw})
    assert connection.account_url == "http://videos.blob.core.windows.net"


def test_a_custom_setting_prefix_is_read():
    connection = resolve_connection("OTHER_STORAGE", env={"OTHER_STORAGE": "UseDevelopmentStorage=true"})
    assert connection.setting == "OTHER_STORAGE"


@pytest.mark.parametrize(
    "raw",
    [
        "not a connection string",
        "https://videos.blob.core.windows.net",
        f"AccountKey={KEY}",
        "AccountName=videos",
        "AccountName=videos;AccountKey=not*base64!",
        f"AccountName=videos;AccountKey={KEY};DefaultEndpointsProtocol=ftp",
        f"AccountName=videos;AccountKey={KEY};BlobEndpoint=not-a-url",
        f"AccountName=videos;AccountKey={KEY};BlobEndpoint=https://x.blob.core.windows.net?sv=1",
        "UseDevelopmentStorage=false",
        f"=value;AccountName=videos;AccountKey={KEY}",
    ],
)
def test_a_malformed_connection_string_names_the_setting_and_never_echoes_the_key(raw: str):
    with pytest.raises(ConfigurationError) as caught:
        resolve_connection(env={"VIDEO_STORAGE": raw})
    assert caught.value.setting == "VIDEO_STORAGE"
    assert "VIDEO_STORAGE" in caught.value.message
    assert KEY not in caught.value.message


def test_nothing_set_names_both_forms():
    with pytest.raises(ConfigurationError) as caught:
        resolve_connection(env={"VIDEO_STORAGE": "   "})
    assert caught.value.setting == "VIDEO_STORAGE"
    assert "VIDEO_STORAGE__accountName" in caught.value.message


def test_the_account_key_never_appears_in_a_repr():
    connection = resolve_connection(env={"VIDEO_STORAGE": f"AccountName=videos;AccountKey={KEY}"})
    assert KEY not in repr(connection)
    sas = resolve_connection(
        env={"VIDEO_STORAGE": "BlobEndpoint=https://v.blob.core.windows.net;SharedAccessSignature=sig=zz"}
    )
    assert "sig=zz" not in repr(sas)


# --- identity-based connections -----------------------------------------------------------------------------------


def test_an_account_name_means_the_public_endpoint_and_the_default_credential_chain():
    connection = resolve_connection(env={"VIDEO_STORAGE__accountName": "videosprod"})
    assert connection.account_url == "https://videosprod.blob.core.windows.net"
    assert connection.account_name == "videosprod"
    assert isinstance(connection.credential, DefaultAzureCredential)
    assert connection.account_key is None and connection.uses_identity


def test_a_user_assigned_managed_identity_uses_its_client_id():
    env = {
        "VIDEO_STORAGE__accountName": "videosprod",
        "VIDEO_STORAGE__credential": "managedidentity",
        "VIDEO_STORAGE__clientId": "00000000-0000-0000-0000-0000000000aa",
    }
    connection = resolve_connection(env=env)
    assert isinstance(connection.credential, ManagedIdentityCredential)
    assert connection.client_id == "00000000-0000-0000-0000-0000000000aa"


def test_a_system_assigned_managed_identity_needs_no_client_id():
    env = {"VIDEO_STORAGE__accountName": "videosprod", "VIDEO_STORAGE__credential": "ManagedIdentity"}
    connection = resolve_connection(env=env)
    assert isinstance(connection.credential, ManagedIdentityCredential)
    assert connection.client_id is None


def test_a_client_id_without_credential_goes_to_the_default_chain_as_its_managed_identity():
    env = {"VIDEO_STORAGE__accountName": "videosprod", "VIDEO_STORAGE__clientId": "abc"}
    connection = resolve_connection(env=env)
    assert isinstance(connection.credential, DefaultAzureCredential)
    assert connection.client_id == "abc"


def test_a_service_principal_for_local_development_against_azure():
    env = {
        "VIDEO_STORAGE__accountName": "videosprod",
        "VIDEO_STORAGE__tenantId": "tenant",
        "VIDEO_STORAGE__clientId": "client",
        "VIDEO_STORAGE__clientSecret": "secret-value",
    }
    connection = resolve_connection(env=env)
    assert isinstance(connection.credential, ClientSecretCredential)
    assert "secret-value" not in repr(connection)


@pytest.mark.parametrize("key", ["VIDEO_STORAGE__blobServiceUri", "VIDEO_STORAGE__serviceUri"])
def test_a_service_uri_sets_the_endpoint_and_the_account(key: str):
    connection = resolve_connection(env={key: "https://videosprod.blob.core.windows.net/"})
    assert connection.account_url == "https://videosprod.blob.core.windows.net"
    assert connection.account_name == "videosprod"


def test_blob_service_uri_wins_over_account_name():
    env = {
        "VIDEO_STORAGE__accountName": "videosprod",
        "VIDEO_STORAGE__blobServiceUri": "https://videosprod.privatelink.blob.core.windows.net",
    }
    connection = resolve_connection(env=env)
    assert connection.account_url == "https://videosprod.privatelink.blob.core.windows.net"
    assert connection.account_name == "videosprod"


def test_identity_setting_names_are_case_insensitive():
    connection = resolve_connection(env={"video_storage__ACCOUNTNAME": "videosprod"})
    assert connection.account_name == "videosprod"


def test_a_connection_string_wins_over_identity_settings():
    env = {"VIDEO_STORAGE": "UseDevelopmentStorage=true", "VIDEO_STORAGE__accountName": "videosprod"}
    assert resolve_connection(env=env).account_name == "devstoreaccount1"


@pytest.mark.parametrize(
    "env, setting",
    [
        ({"VIDEO_STORAGE__accountName": "Not_Valid"}, "VIDEO_STORAGE__accountName"),
        ({"VIDEO_STORAGE__accountName": "ab"}, "VIDEO_STORAGE__accountName"),
        ({"VIDEO_STORAGE__blobServiceUri": "http://videos.blob.core.windows.net"}, "VIDEO_STORAGE__blobServiceUri"),
        ({"VIDEO_STORAGE__serviceUri": "videos.blob.core.windows.net"}, "VIDEO_STORAGE__serviceUri"),
        (
            {"VIDEO_STORAGE__accountName": "videos", "VIDEO_STORAGE__credential": "clientsecret"},
            "VIDEO_STORAGE__credential",
        ),
        (
            {"VIDEO_STORAGE__accountName": "videos", "VIDEO_STORAGE__clientSecret": "s"},
            "VIDEO_STORAGE__clientSecret",
        ),
        ({"VIDEO_STORAGE__clientId": "abc"}, "VIDEO_STORAGE__accountName"),
    ],
)
def test_malformed_identity_settings_name_the_setting(env: dict, setting: str):
    with pytest.raises(ConfigurationError) as caught:
        resolve_connection(env=env)
    assert caught.value.setting == setting


# --- laziness -----------------------------------------------------------------------------------------------------


def test_importing_the_store_reads_no_setting_and_loads_no_identity_stack(repo_root):
    code = (
        "import os, sys\n"
        "for k in list(os.environ):\n"
        "    if k.upper().startswith('VIDEO_'): del os.environ[k]\n"
        "import soraflow.storage\n"
        "from soraflow.storage import output_store\n"
        "assert 'azure.identity' not in sys.modules, 'azure.identity was imported'\n"
        "store = output_store()\n"
        "try:\n"
        "    store.connection\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc.setting)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ConfigurationError VIDEO_STORAGE"


def test_the_service_client_is_created_once_and_reused():
    store = BlobStore(resolve_connection(env={"VIDEO_STORAGE": "UseDevelopmentStorage=true"}), "videos")
    assert store.service_client() is store.service_client()
