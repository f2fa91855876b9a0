"""The download-to-blob benchmark's parts on a tiny video, so the benchmark keeps working as the code moves."""

from __future__ import annotations

import uuid

import pytest

from benchmarks import download_to_blob as bench
from soraflow.storage import BlobStore, resolve_connection
from tests.conftest import SORA_EMULATOR_KEY


def test_both_approaches_move_the_video_intact_and_report_their_memory(
    tmp_path, azurite_connection_string: str, sora_emulator, capsys: pytest.CaptureFixture
):
    source = bench.generate_video(tmp_path / "cache", 1, "320x180")
    assert source.bytes >= bench.MB
    assert bench.generate_video(tmp_path / "cache", 1, "320x180") == source  # cached, not generated again
    video_id = bench.import_video(sora_emulator.url, source)
    container = f"bench{uuid.uuid4().hex[:12]}"
    store = BlobStore(resolve_connection(env={"VIDEO_STORAGE": azurite_connection_string}), container)

    rows = []
    for approach in bench.APPROACHES:
        blob = f"runs/bench-{approach}/video.mp4"
        measured = bench.run_transfer(
            approach,
            video_id=video_id,
            emulator_url=sora_emulator.url,
            api_key=SORA_EMULATOR_KEY,
            storage=azurite_connection_string,
            container=container,
            blob=blob,
        )
        bench.verify(store, blob, source)
        assert measured["bytes"] == source.bytes
        assert measured["peak_rss"] >= measured["baseline_rss"] > 0
        rows.append({"approach": approach, "run": 1, **measured})
    bench.print_table(rows)

    table = capsys.readouterr().out
    assert "streaming" in table and "naive" in table


def test_verification_notices_a_blob_that_differs_from_the_source(tmp_path, azurite_connection_string: str):
    source = bench.generate_video(tmp_path / "cache", 1, "320x180")
    store = BlobStore(resolve_connection(env={"VIDEO_STORAGE": azurite_connection_string}), "bench-verify")
    data = source.path.read_bytes()
    store.upload_bytes("runs/x/video.mp4", data[:-1] + bytes([data[-1] ^ 1]), content_type="video/mp4")

    with pytest.raises(AssertionError):
        bench.verify(store, "runs/x/video.mp4", source)
