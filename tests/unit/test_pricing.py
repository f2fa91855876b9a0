"""Cost estimates: every model and size in the table, the seed's worked examples, remix, overrides, unknown models."""

from __future__ import annotations

import json

import pytest

from soraflow.errors import ConfigurationError
from soraflow.model_table import BUILT_IN_VIDEO_MODELS, SORA1_MAX_VARIANTS
from soraflow.pricing import DEFAULT_PRICES, Cost, estimate_cost, load_price_table
from soraflow.providers.sora_request import parse_video_request
from soraflow.video_request import VideoRequest


def videos(model="sora-2", size="720x1280", seconds=4, remix=False, **options) -> VideoRequest:
    body = {"prompt": "p", "model": model, "size": size, "seconds": seconds}
    if remix:
        body["remix"] = {"prompt": "again"}
    options.setdefault("default_model", "sora-2")
    return parse_video_request(body, api="videos", **options)


def jobs(size="1280x720", seconds=12, variants=1) -> VideoRequest:
    body = {"prompt": "p", "size": size, "seconds": seconds, "variants": variants}
    return parse_video_request(body, api="jobs", default_model="sora")


# Expected USD per second, written out from the sources cited in soraflow/pricing.py rather than from its table.
VIDEOS_RATES = {
    ("sora-2", "720x1280"): 0.10,
    ("sora-2", "1280x720"): 0.10,
    ("sora-2-pro", "720x1280"): 0.30,
    ("sora-2-pro", "1280x720"): 0.30,
    ("sora-2-pro", "1024x1792"): 0.50,
    ("sora-2-pro", "1792x1024"): 0.50,
}


@pytest.mark.parametrize("model", sorted(BUILT_IN_VIDEO_MODELS))
@pytest.mark.parametrize("seconds", [4, 8, 12])
def test_every_videos_model_size_and_duration_has_an_estimate(model, seconds):
    family = "sora-2-pro" if "pro" in model else "sora-2"
    for size in BUILT_IN_VIDEO_MODELS[model].sizes:
        cost = estimate_cost(videos(model, size, seconds))
        assert cost.estimated_usd == pytest.approx(VIDEOS_RATES[(family, size)] * seconds)
        assert cost.seconds == seconds
        assert cost.reason is None


@pytest.mark.parametrize(("seconds", "usd"), [(4, 0.40), (8, 0.80), (12, 1.20)])
def test_sora2_matches_the_seed_examples(seconds, usd):
    assert estimate_cost(videos(seconds=seconds)).estimated_usd == usd


@pytest.mark.parametrize(
    ("size", "seconds", "variants", "usd"),
    [("1280x720", 12, 1, 0.60), ("1920x1080", 12, 1, 1.35), ("1280x720", 12, 2, 1.20), ("1280x720", 4, 1, 0.20)],
)
def test_sora1_matches_the_seed_examples(size, seconds, variants, usd):
    cost = estimate_cost(jobs(size, seconds, variants))
    assert cost.estimated_usd == usd
    assert cost.seconds == seconds * variants


@pytest.mark.parametrize("size", sorted(SORA1_MAX_VARIANTS))
def test_every_sora1_resolution_scales_with_pixel_count(size):
    width, height = (int(n) for n in size.split("x"))
    most = SORA1_MAX_VARIANTS[size]
    cost = estimate_cost(jobs(size, 10, most))
    assert cost.estimated_usd == pytest.approx(0.05 * 10 * most * width * height / (1280 * 720), abs=1e-4)
    assert cost.items[0].variants == most


def test_a_remix_costs_another_generation_of_the_same_length():
    single = estimate_cost(videos("sora-2-pro", "1792x1024", 12))
    chained = estimate_cost(videos("sora-2-pro", "1792x1024", 12, remix=True))
    assert (single.estimated_usd, chained.estimated_usd) == (6.0, 12.0)
    assert chained.seconds == 24
    assert [item.kind for item in chained.items] == ["generation", "remix"]
    assert "remix" in chained.basis


def test_snapshots_and_deployment_names_are_priced_as_their_family():
    snapshot = estimate_cost(videos("sora-2-pro-2025-10-06", "1280x720", 8))
    assert snapshot.estimated_usd == pytest.approx(2.40)
    assert "priced as sora-2-pro" in snapshot.basis
    deployment = estimate_cost(videos("contoso-video", default_model="contoso-video"))
    assert deployment.estimated_usd == pytest.approx(0.40)
    assert deployment.basis.startswith("contoso-video priced as sora-2 at $0.1/s")


def test_unknown_model_gets_no_estimate_with_a_reason_rather_than_a_crash():
    request = videos("gateway-model", "1920x1080", 16, extra_models='{"*": "any"}')
    cost = estimate_cost(request)
    assert cost.estimated_usd is None
    assert cost.seconds == 16
    assert "no price for model gateway-model" in cost.reason and "SORA_PRICING" in cost.reason
    assert json.loads(json.dumps(cost.to_dict()))["estimated_usd"] is None


def test_pricing_setting_adds_a_model_and_overrides_a_built_in_one():
    setting = json.dumps({"videos": {"gateway-model": 0.2, "sora-2": {"1280x720": 0.12, "*": 0.11}}, "jobs": 0.04})
    gateway = videos("gateway-model", "1920x1080", 16, extra_models='{"*": "any"}')
    assert estimate_cost(gateway, setting).estimated_usd == pytest.approx(3.2)
    assert estimate_cost(videos(size="1280x720", seconds=8), setting).estimated_usd == pytest.approx(0.96)
    assert estimate_cost(videos(size="720x1280", seconds=8), setting).estimated_usd == pytest.approx(0.88)
    assert estimate_cost(jobs("1280x720", 10, 2), setting).estimated_usd == pytest.approx(0.80)
    # Models the setting does not mention keep their built-in prices.
    assert estimate_cost(videos("sora-2-pro", "720x1280", 4), setting).estimated_usd == pytest.approx(1.20)


def test_price_table_can_be_passed_as_a_parsed_mapping_or_a_table():
    table = load_price_table({"videos": {"sora-2": 1.0}})
    assert estimate_cost(videos(), table).estimated_usd == 4.0
    assert estimate_cost(videos(), {"videos": {"sora-2": 1.0}}).estimated_usd == 4.0
    assert load_price_table(None) is DEFAULT_PRICES
    assert load_price_table("  ") is DEFAULT_PRICES


def test_a_size_missing_from_a_per_size_override_gets_no_estimate():
    cost = estimate_cost(videos("sora-2-pro", "1792x1024"), {"videos": {"sora-2-pro": {"720x1280": 0.3}}})
    assert cost.estimated_usd is None
    assert cost.reason == "no price for size 1792x1024 of sora-2-pro in the price table"


def test_free_is_a_valid_price():
    assert estimate_cost(videos(), {"videos": {"sora-2": 0}}).estimated_usd == 0.0


@pytest.mark.parametrize(
    "setting",
    [
        "{oops",
        "[]",
        '{"video": {}}',
        '{"videos": []}',
        '{"videos": {"sora-2": -0.1}}',
        '{"videos": {"sora-2": "0.10"}}',
        '{"videos": {"sora-2": true}}',
        '{"videos": {"sora-2": {}}}',
        '{"videos": {"sora-2": {"big": 0.1}}}',
        '{"videos": {"bad name!": 0.1}}',
        '{"jobs": null}',
        '{"jobs": 1e999}',
    ],
)
def test_malformed_pricing_setting_names_the_setting(setting):
    with pytest.raises(ConfigurationError) as info:
        estimate_cost(videos(), setting)
    assert info.value.setting == "SORA_PRICING"


def test_cost_serialises_for_the_run_resource():
    data = json.loads(json.dumps(estimate_cost(jobs("480x480", 5, 3)).to_dict()))
    assert data["estimated_usd"] == pytest.approx(0.05 * 5 * 3 * 480 * 480 / (1280 * 720), abs=1e-4)
    assert data["seconds"] == 15
    assert data["currency"] == "USD"
    assert data["items"] == [
        {"kind": "generation", "seconds": 5, "variants": 3, "usd_per_second": pytest.approx(0.0125), "usd": 0.1875}
    ]
    assert isinstance(estimate_cost(videos()), Cost)
