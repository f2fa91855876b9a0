"""The run index: one Azure Table row per run, newest first, so listing runs reads one page instead of every run.

A row holds the run resource as the last write saw it (at its start, at each stage change, at its end).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from soraflow import config
from soraflow.errors import FieldError, RequestValidationError, SoraflowError
from soraflow.runs import RunStatus
from soraflow.storage.connection import DEFAULT_SETTING, StorageConnection, resolve_connection

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableEntity

TABLE_SETTING = "RUN_INDEX_TABLE"
PARTITION = "runs"  # one partition: a page is one range read in RowKey order, which is newest first
# RowKeys count down from here in microseconds since the epoch (17 digits last until the year 5138).
_NEWEST = 10**17 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The service's limits: 64 KiB per binary property, 1 MiB per entity. The largest valid request (two prompts of
# 32,000 4-byte characters, full metadata) makes a 292 KB resource, 5 chunks; 15 (960 KiB) leave room to spare.
CHUNK_BYTES = 64 * 1024
MAX_CHUNKS = 15
# A filtered query may come back short (or empty) with a token; read on, but never more than this per page.
MAX_QUERIES_PER_PAGE = 10
# Conditional writes that lose a race read the row again; two writers settle within a few tries.
MAX_WRITE_ATTEMPTS = 5
_RETRYABLE_STATUSES = {408, 429, 500, 502, 503, 504}
# The SDK's default (10 retries, exponential backoff) would hold a run's index activity for minutes while the table
# service is down; a failed index write only costs a stale row until the next one, so give up soon instead.
CLIENT_OPTIONS = {"retry_total": 2, "connection_timeout": 5, "read_timeout": 15}


class RunIndexError(SoraflowError):
    """The run index table refused or failed an operation; `retryable` says whether trying again can help."""

    code = "run_index_error"
    retryable = True


class RunIndex:
    """The runs of one app in one table (RUN_INDEX_TABLE), on the VIDEO_STORAGE account."""

    def __init__(
        self,
        connection: StorageConnection | Callable[[], StorageConnection] | None = None,
        table: str = config.DEFAULT_RUN_INDEX_TABLE,
        **client_options: Any,
    ):
        self._connection_source = connection if connection is not None else resolve_connection
        self.table = config._table({TABLE_SETTING: table}, TABLE_SETTING, config.DEFAULT_RUN_INDEX_TABLE)
        # Passed to TableServiceClient, e.g. retry_total, connection_timeout, raw_response_hook.
        self._client_options = {**CLIENT_OPTIONS, **client_options}
        self._lock = threading.Lock()
        self._client: TableClient | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, setting: str = DEFAULT_SETTING) -> RunIndex:
        """The index in the table named by RUN_INDEX_TABLE, on the account of `VIDEO_STORAGE`."""
        env = os.environ if env is None else env
        table = config._table(env, TABLE_SETTING, config.DEFAULT_RUN_INDEX_TABLE)
        return cls(lambda: resolve_connection(setting, env), table)

    def table_client(self) -> TableClient:
        """The TableClient, created on first use and reused."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    source = self._connection_source
                    connection = source() if callable(source) else source
                    service = connection.create_table_service_client(**self._client_options)
                    self._client = service.get_table_client(self.table)
        return self._client

    # --- writes ---

    def record(self, run: Mapping[str, Any], *, only_if_absent: bool = False) -> bool:
        """Write the run's row unless the stored one is newer; True if written.

        `only_if_absent` writes only a row that does not exist yet (a start, racing the run's own first write).
        """
        # The SDK is imported on first use, so that importing the app stays near the Functions SDK's own cost.
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        entity = run_entity(run)
        table = self.table_client()
        for _ in range(MAX_WRITE_ATTEMPTS):
            with _table_errors("read the run index row of", entity["run_id"]):
                stored = None if only_if_absent else self._get(entity["RowKey"])
            if stored is None:
                try:
                    self._create(entity)
                    return True
                except ResourceExistsError:
                    if only_if_absent:
                        return False
                    continue  # another writer created it: compare with theirs
            if _freshness(stored) >= _freshness(entity):
                return False
            try:
                with _table_errors("update the run index row of", entity["run_id"]):
                    table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=stored.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                return True
            except (ResourceModifiedError, ResourceNotFoundError):
                continue  # another writer got in between (or removed the row): look again
        raise RunIndexError(f"the run index row of {entity['run_id']} kept changing; try again")

    def remove(self, run_id: str, created_at: str) -> None:
        """Delete the run's row (nothing if there is none)."""
        from azure.core.exceptions import ResourceNotFoundError

        # No table yet means no row.
        with _table_errors("delete the run index row of", run_id), suppress(ResourceNotFoundError):
            self.table_client().delete_entity(PARTITION, row_key(created_at, run_id))

    def _get(self, key: str) -> TableEntity | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.table_client().get_entity(PARTITION, key)
        except ResourceNotFoundError:  # no such row, or no table yet
            return None

    def _create(self, entity: dict) -> None:
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        table = self.table_client()
        with _table_errors("write the run index row of", entity["run_id"]):
            try:
                table.create_entity(entity)
            except ResourceNotFoundError:  # the table is created by the first write
                with suppress(ResourceExistsError):
                    table.create_table()
                table.create_entity(entity)

    # --- reads ---

    def find(self, run_id: str, created_at: str) -> dict | None:
        """The stored run resource, or None if the run has no row."""
        with _table_errors("read the run index row of", run_id):
            stored = self._get(row_key(created_at, run_id))
        return None if stored is None else stored_run(stored)

    def page(
        self, *, status: str | None = None, limit: int, continuation: str | None = None
    ) -> tuple[list[dict], str | None]:
        """One page of runs, newest first (only `status` if given), and the token of the next page (None at the end).

        Raises RequestValidationError naming `continuation` for a token this index did not hand out.
        """
        from azure.core.exceptions import ResourceNotFoundError

        if not 1 <= limit <= 1000:  # the service's largest page
            raise ValueError(f"limit must be 1..1000, got {limit}")
        token = decode_continuation(continuation) if continuation is not None else None
        query, parameters = "PartitionKey eq @partition", {"partition": PARTITION}
        if status is not None:
            query, parameters = query + " and status eq @status", {**parameters, "status": status}
        runs: list[dict] = []
        for _ in range(MAX_QUERIES_PER_PAGE):
            # Asking for exactly the rows still missing keeps the service's token exact: no row is skipped.
            entities = self.table_client().query_entities(
                query, parameters=parameters, results_per_page=limit - len(runs)
            )
            pages = entities.by_page(continuation_token=token)
            with _table_errors("list", "the run index"):
                try:
                    rows = list(next(pages, []))
                except ResourceNotFoundError:  # no table yet: no run was ever recorded
                    return [], None
            runs += [stored_run(row) for row in rows]
            token = pages.continuation_token
            if len(runs) >= limit or not token:
                break
        return runs, encode_continuation(token) if token else None


def run_entity(run: Mapping[str, Any]) -> dict:
    """The table row of a run resource: keys, filter columns, and the resource's JSON in binary chunks."""
    run_id, created_at = run.get("id"), run.get("created_at")
    if not run_id or not created_at:
        raise ValueError("a run resource needs an id and created_at to be indexed")
    resource = {**run, "outputs": [{k: v for k, v in o.items() if k != "url"} for o in run.get("outputs") or []]}
    data = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
    chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
    if len(chunks) > MAX_CHUNKS:
        message = f"run {run_id} is {len(data):,} bytes of JSON, more than a table row holds"
        raise RunIndexError(message, retryable=False)
    return {
        "PartitionKey": PARTITION,
        "RowKey": row_key(created_at, run_id),
        "run_id": run_id,
        "status": str(run.get("status") or RunStatus.QUEUED),
        "created_at": created_at,
        # The start's view has no updated_at yet; its creation is when it was last updated.
        "updated_at": run.get("updated_at") or created_at,
        **{f"run_{i}": chunk for i, chunk in enumerate(chunks)},
    }


def stored_run(entity: Mapping[str, Any]) -> dict:
    """The run resource a row holds."""
    chunks = []
    for i in range(MAX_CHUNKS):
        if f"run_{i}" not in entity:
            break
        chunks.append(bytes(entity[f"run_{i}"]))
    return json.loads(b"".join(chunks))


def row_key(created_at: str, run_id: str) -> str:
    """Newest first: the inverted creation time in microseconds, then the run id (unique, and a tie-break)."""
    moment = _moment(created_at)
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return f"{_NEWEST - micros:017d}-{run_id}"


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    # The orchestration clock may come without a zone; it is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _freshness(entity: Mapping[str, Any]) -> tuple[bool, datetime]:
    """Which of two views of a run is newer: a final one beats a live one, then the later `updated_at`."""
    try:
        final = RunStatus(entity.get("status")).is_final
    except ValueError:
        final = False
    return final, _moment(entity.get("updated_at") or entity["created_at"])


def encode_continuation(token: dict) -> str:
    """The table's continuation (PartitionKey, RowKey) as an opaque url-safe string."""
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_continuation(token: str) -> dict:
    """The table's continuation from a token `encode_continuation` made; RequestValidationError otherwise."""
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        value = None
    keys = ("PartitionKey", "RowKey")
    if not (isinstance(value, dict) and set(value) <= set(keys) and all(isinstance(value.get(k), str) for k in keys)):
        raise RequestValidationError(FieldError("continuation", "is not a token this API returned"))
    return value


@contextmanager
def _table_errors(operation: str, subject: str) -> Iterator[None]:
    from azure.core.exceptions import (
        HttpResponseError,
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    # Only the status and the service's error code: a response body is not ours to repeat.
    try:
        yield
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
        raise  # the callers' control flow
    except HttpResponseError as exc:
        status = exc.status_code
        code = getattr(exc, "error_code", None)
        code = str(getattr(code, "value", code) or exc.reason or "error")
        raise RunIndexError(
            f"cannot {operation} {subject}: HTTP {status} {code}",
            retryable=status is None or status in _RETRYABLE_STATUSES,
        ) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise RunIndexError(f"cannot {operation} {subject}: {type(exc).__name__}") from exc


_run_index: RunIndex | None = None
_run_index_lock = threading.Lock()


def run_index() -> RunIndex:
    """The app's run index, configured from the environment on first use and reused after."""
    global _run_index
    if _run_index is None:
        with _run_index_lock:
            if _run_index is None:
                _run_index = RunIndex.from_env()
    return _run_index
