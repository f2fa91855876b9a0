"""The listing benchmark's parts on a few runs: both approaches list the same runs in order, and calls are counted."""

from __future__ import annotations

import pytest

from benchmarks import list_runs as bench
from soraflow import run_index as run_index_module


@pytest.fixture
def populated(azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch):
    counter = bench.CallCounter()
    index, instances = bench.populate(azurite_connection_string, 23, counter)
    monkeypatch.setattr(run_index_module, "_run_index", index)
    return counter, instances


def test_the_run_index_and_the_reconstructed_full_scan_list_the_same_runs_newest_first(populated):
    counter, instances = populated
    by_index = bench.walk_index(bench.list_handler(), counter, 5)
    by_scan = bench.walk_old(instances, counter, 5)

    listed = [run_id for page in by_index for run_id in page[2]]
    assert listed == [run_id for page in by_scan for run_id in page[2]]
    assert listed == [f"run-{n:024d}" for n in reversed(range(23))]
    assert [len(page[2]) for page in by_index] == [5, 5, 5, 5, 3]


def test_storage_calls_are_counted_per_page(populated):
    counter, instances = populated
    # One table query per index page; the full scan reads every instance (23 fit one query) plus one read per run.
    assert [page[1] for page in bench.walk_index(bench.list_handler(), counter, 10)] == [1, 1, 1]
    assert [page[1] for page in bench.walk_old(instances, counter, 10)] == [11, 11, 4]
