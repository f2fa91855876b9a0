"""The run index against real Azurite: pages newest first at any size, status filters, and writes that never go back."""

from __future__ import annotations

import base64
import random
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from soraflow.errors import ConfigurationError, RequestValidationError
from soraflow.providers.sora_request import parse_video_request
from soraflow.run_index import CHUNK_BYTES, RunIndex, RunIndexError, run_entity
from soraflow.storage import resolve_connection
from soraflow.video_request import MAX_PROMPT_CHARS

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STATUSES = ("completed", "failed", "generating", "cancelled", "completed", "queued", "completed")


def run_view(n: int, *, status: str = "completed", updated: timedelta = timedelta(seconds=30), **fields) -> dict:
    """A run resource as build_run_resource makes it: run n was created n seconds after START."""
    created = START + timedelta(seconds=n)
    return {
        "id": f"run-{n:024d}",
        "status": status,
        "progress": 100 if status == "completed" else 40,
        "queue_position": None,
        "request": {"prompt": f"run number {n}", "model": "sora-2", "size": "1280x720", "seconds": 4},
        "provider": {"api": "videos", "job_id": f"video_{n}", "status": status, "progress": 40},
        "outputs": [],
        "error": None,
        "cost": {"estimated_usd": 0.4, "seconds": 4},
        "created_at": created.isoformat(),
        "updated_at": (created + updated).isoformat(),
        "completed_at": None,
        **fields,
    }


def new_index(connection_string: str, **options) -> RunIndex:
    """An index on a table of its own, so each test starts from nothing."""
    connection = resolve_connection(env={"VIDEO_STORAGE": connection_string})
    return RunIndex(connection, "runs" + uuid.uuid4().hex[:12], **options)


def read_all(index: RunIndex, *, limit: int, status: str | None = None) -> list[list[dict]]:
    pages, token = [], None
    while True:
        runs, token = index.page(status=status, limit=limit, continuation=token)
        pages.append(runs)
        if token is None:
            return pages
        assert len(pages) < 1000, "the pages never end"


@pytest.fixture(scope="module")
def index_of_250(azurite_connection_string) -> tuple[RunIndex, list[dict], list]:
    """250 runs of mixed statuses, recorded in shuffled order; the views newest first; the requests it sends."""
    requests: list = []
    index = new_index(azurite_connection_string, raw_response_hook=requests.append)
    views = [run_view(n, status=STATUSES[n % len(STATUSES)]) for n in range(250)]
    shuffled = random.Random(8).sample(views, len(views))
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(index.record, shuffled))
    return index, sorted(views, key=lambda view: view["created_at"], reverse=True), requests


# --- listing at any size ---


def test_250_runs_are_listed_newest_first_in_pages_of_100_each_with_one_query(index_of_250):
    index, newest_first, requests = index_of_250
    requests.clear()
    pages = read_all(index, limit=100)
    assert [len(page) for page in pages] == [100, 100, 50]
    assert [run["id"] for page in pages for run in page] == [view["id"] for view in newest_first]
    assert len(requests) == 3  # one table query per page: never every run, never one read per run


def test_250_runs_are_listed_in_pages_of_7_each_run_exactly_once(index_of_250):
    index, newest_first, _ = index_of_250
    pages = read_all(index, limit=7)
    assert [len(page) for page in pages] == [7] * 35 + [5]
    assert [run["id"] for page in pages for run in page] == [view["id"] for view in newest_first]


@pytest.mark.parametrize("status", sorted(set(STATUSES)))
def test_a_status_filter_lists_only_that_status_newest_first(index_of_250, status):
    index, newest_first, _ = index_of_250
    pages = read_all(index, limit=7, status=status)
    expected = [view["id"] for view in newest_first if view["status"] == status]
    assert [run["id"] for page in pages for run in page] == expected
    assert all(len(page) == 7 for page in pages[:-1])


def test_a_status_nothing_has_is_one_empty_page(index_of_250):
    index, _, _ = index_of_250
    assert index.page(status="remixing", limit=20) == ([], None)


def test_a_listed_run_is_the_resource_that_was_recorded(index_of_250):
    index, newest_first, _ = index_of_250
    runs, _ = index.page(limit=1)
    assert runs == [newest_first[0]]


# --- writes ---


def test_a_newer_view_is_never_replaced_by_an_older_one(azurite_connection_string):
    index = new_index(azurite_connection_string)
    newer = run_view(1, status="generating", updated=timedelta(seconds=20))
    older = run_view(1, status="submitting", updated=timedelta(seconds=10))
    assert index.record(newer)
    assert not index.record(older)
    assert index.find(newer["id"], newer["created_at"]) == newer


def test_a_final_view_replaces_a_live_one_stamped_at_the_same_moment(azurite_connection_string):
    # A terminated run's resource keeps its last live updated_at; it must still end the row as cancelled.
    index = new_index(azurite_connection_string)
    live = run_view(1, status="generating")
    cancelled = run_view(1, status="cancelled")
    assert index.record(live)
    assert index.record(cancelled)
    assert not index.record(live)
    assert index.find(live["id"], live["created_at"])["status"] == "cancelled"


def test_writers_racing_leave_the_newest_view(azurite_connection_string):
    index = new_index(azurite_connection_string)
    views = [run_view(1, status="generating", progress=p, updated=timedelta(seconds=p)) for p in range(1, 25)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        written = list(pool.map(index.record, random.Random(2).sample(views, len(views))))
    assert any(written)
    assert index.find(views[0]["id"], views[0]["created_at"]) == views[-1]


def test_only_if_absent_writes_a_missing_row_and_leaves_an_existing_one(azurite_connection_string):
    index = new_index(azurite_connection_string)
    started = run_view(1, status="queued", updated_at=None)
    assert index.record(started, only_if_absent=True)
    assert index.find(started["id"], started["created_at"]) == started

    # The run's own first write arrived before the start's: the start leaves it.
    later = run_view(2, status="submitting")
    assert index.record(later)
    assert not index.record({**later, "status": "queued", "updated_at": None}, only_if_absent=True)
    assert index.find(later["id"], later["created_at"]) == later


def test_the_largest_request_allowed_fits_in_a_row(azurite_connection_string):
    # Two prompts of 4-byte characters (control characters, which JSON escapes longer, are refused): the most bytes
    # a valid request can take.
    prompt = "\U0001f3ac" * MAX_PROMPT_CHARS
    body = {
        "prompt": prompt,
        "remix": {"prompt": prompt},
        "callback_url": "https://example.com/" + "c" * 2000,
        "metadata": {f"k{i:02d}" + "m" * 60: "\U0001f3ac" * 512 for i in range(16)},
    }
    request = parse_video_request(body, api="videos", default_model="sora-2").to_dict()
    view = run_view(1, request=request)
    chunks = [name for name in run_entity(view) if name.startswith("run_") and name[4:].isdigit()]
    assert len(chunks) >= 4, f"256 KB of prompts should take several chunks of {CHUNK_BYTES} bytes"
    index = new_index(azurite_connection_string)
    assert index.record(view)
    assert index.find(view["id"], view["created_at"])["request"] == request
    assert index.page(limit=5)[0] == [view]


def test_output_urls_are_not_stored(azurite_connection_string):
    index = new_index(azurite_connection_string)
    output = {"kind": "video", "source": "generation", "index": 0, "blob": "runs/x/video.mp4", "bytes": 10}
    view = run_view(1, outputs=[{**output, "url": "https://host/api/videos/x/content?variant=video"}])
    index.record(view)
    assert index.find(view["id"], view["created_at"])["outputs"] == [output]


def test_remove_deletes_the_row_and_nothing_else(azurite_connection_string):
    index = new_index(azurite_connection_string)
    kept, removed = run_view(1), run_view(2)
    index.record(kept)
    index.record(removed)
    index.remove(removed["id"], removed["created_at"])
    assert index.find(removed["id"], removed["created_at"]) is None
    assert index.page(limit=10) == ([kept], None)
    index.remove(removed["id"], removed["created_at"])  # removing again is no error


def test_a_table_that_does_not_exist_yet_reads_as_empty_and_is_created_by_the_first_write(azurite_connection_string):
    index = new_index(azurite_connection_string)
    assert index.page(limit=20) == ([], None)
    assert index.page(status="completed", limit=20) == ([], None)
    assert index.find("run-000000000000000000000001", START.isoformat()) is None
    index.remove("run-000000000000000000000001", START.isoformat())
    assert index.record(run_view(1))
    assert [run["id"] for run in index.page(limit=20)[0]] == [run_view(1)["id"]]


# --- continuation tokens ---


@pytest.mark.parametrize(
    "token",
    ["garbage!", "", base64.urlsafe_b64encode(b"[1, 2]").decode(), base64.urlsafe_b64encode(b'{"RowKey": 3}').decode()],
)
def test_a_token_this_index_did_not_hand_out_is_refused_naming_continuation(azurite_connection_string, token):
    index = new_index(azurite_connection_string)
    with pytest.raises(RequestValidationError) as refused:
        index.page(limit=5, continuation=token)
    assert refused.value.errors[0].field == "continuation"


def test_a_token_is_opaque_url_safe_text(index_of_250):
    index, _, _ = index_of_250
    _, token = index.page(limit=3)
    assert token and set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# --- where the table is (no network) ---


def table_url(env: dict) -> str:
    return RunIndex.from_env(env).table_client().url


def test_an_account_name_with_managed_identity_means_the_public_table_endpoint():
    env = {"VIDEO_STORAGE__accountName": "videosprod", "VIDEO_STORAGE__credential": "managedidentity"}
    assert table_url(env) == "https://videosprod.table.core.windows.net"
    assert RunIndex.from_env(env).table == "soraflowruns"


def test_a_table_service_uri_with_a_user_assigned_identity_is_used_as_given():
    env = {
        "VIDEO_STORAGE__blobServiceUri": "https://videos.blob.core.windows.net",
        "VIDEO_STORAGE__tableServiceUri": "https://videos.table.core.windows.net",
        "VIDEO_STORAGE__credential": "managedidentity",
        "VIDEO_STORAGE__clientId": "00000000-0000-0000-0000-000000000001",
        "RUN_INDEX_TABLE": "myruns",
    }
    assert table_url(env) == "https://videos.table.core.windows.net"
    assert RunIndex.from_env(env).table == "myruns"


def test_a_blob_service_uri_alone_names_the_table_setting_to_add():
    env = {"VIDEO_STORAGE__blobServiceUri": "https://videos.blob.core.windows.net"}
    with pytest.raises(ConfigurationError) as missing:
        table_url(env)
    assert "VIDEO_STORAGE__tableServiceUri" in missing.value.message


def test_a_plain_http_table_service_uri_is_refused_for_an_identity():
    env = {"VIDEO_STORAGE__accountName": "videos", "VIDEO_STORAGE__tableServiceUri": "http://videos.example"}
    with pytest.raises(ConfigurationError) as refused:
        table_url(env)
    assert refused.value.setting == "VIDEO_STORAGE__tableServiceUri"


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("UseDevelopmentStorage=true", "http://127.0.0.1:10002/devstoreaccount1"),
        ("AccountName=videos;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn", "https://videos.table.core.chinacloudapi.cn"),
        ("AccountName=videos;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:41234/videos", "http://127.0.0.1:41234/videos"),
    ],
)  # fmt: skip
def test_a_connection_string_names_its_table_endpoint(value, url):
    assert table_url({"VIDEO_STORAGE": value}) == url


def test_a_blob_only_sas_connection_string_says_the_index_needs_a_table_endpoint():
    env = {"VIDEO_STORAGE": "BlobEndpoint=https://videos.blob.core.windows.net;SharedAccessSignature=sv=1&sig=x"}
    with pytest.raises(ConfigurationError) as missing:
        table_url(env)
    assert missing.value.setting == "VIDEO_STORAGE" and "TableEndpoint" in missing.value.message


@pytest.mark.parametrize("name", ["ab", "1runs", "run-index", "tables", "x" * 64, "r\u00fcns"])
def test_an_invalid_table_name_is_refused_naming_the_setting(name):
    with pytest.raises(ConfigurationError) as refused:
        RunIndex.from_env({"VIDEO_STORAGE": "UseDevelopmentStorage=true", "RUN_INDEX_TABLE": name})
    assert refused.value.setting == "RUN_INDEX_TABLE"


def test_creating_an_index_reads_no_setting_and_touches_no_network():
    index = RunIndex.from_env({})  # VIDEO_STORAGE unset: only a use of the index needs it
    with pytest.raises(ConfigurationError) as missing:
        index.page(limit=1)
    assert missing.value.setting == "VIDEO_STORAGE"


def test_row_keys_sort_newest_first():
    keys = [run_entity(run_view(n))["RowKey"] for n in (0, 1, 86_400 * 365 * 50)]
    assert keys == sorted(keys, reverse=True)
    assert len({len(key) for key in keys}) == 1


def test_an_unreachable_table_service_is_a_retryable_run_index_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    raw = f"AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1"
    index = RunIndex(resolve_connection(env={"VIDEO_STORAGE": raw}), retry_total=0)
    for attempt in (lambda: index.record(run_view(1)), lambda: index.page(limit=5)):
        with pytest.raises(RunIndexError) as failed:
            attempt()
        assert failed.value.retryable
