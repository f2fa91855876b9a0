"""The quota gate's rules: a limit, first come first served, leases that expire, a per-minute cap, safe repeats."""

import math

import pytest

from soraflow.config import Settings
from soraflow.errors import ConfigurationError
from soraflow.quota import (
    RATE_WINDOW_SECONDS,
    QuotaGate,
    QuotaLimits,
    quota_key,
    quota_options,
    waiting_fallback_delay,
)

LEASE = 30.0
T0 = 1_800_000_000.0


def gate(concurrent: int = 2, per_minute: int | None = None) -> QuotaGate:
    return QuotaGate(limits=QuotaLimits(concurrent, per_minute, LEASE))


def test_admits_up_to_the_limit_and_queues_the_rest_in_order():
    g = gate()
    answers = [g.acquire(f"run-{i}", T0 + i * 0.1) for i in range(5)]
    assert [a.granted for a in answers] == [True, True, False, False, False]
    assert [a.position for a in answers] == [None, None, 1, 2, 3]
    assert set(g.holders) == {"run-0", "run-1"}


def test_a_released_slot_goes_to_the_head_of_the_line_not_to_a_later_asker():
    g = gate()
    for i in range(4):
        g.acquire(f"run-{i}", T0)
    g.release("run-0", T0 + 1)
    # run-3 asks first after the release, but run-2 came earlier and already holds the slot.
    assert g.acquire("run-3", T0 + 1.1).position == 1
    assert g.acquire("run-2", T0 + 1.2).granted
    assert set(g.holders) == {"run-1", "run-2"}


def test_positions_move_up_as_the_line_moves():
    g = gate(concurrent=1)
    for i in range(4):
        g.acquire(f"run-{i}", T0)
    assert [g.admission(f"run-{i}").position for i in (1, 2, 3)] == [1, 2, 3]
    g.release("run-0", T0 + 1)
    assert g.admission("run-1").granted
    assert [g.admission(f"run-{i}").position for i in (2, 3)] == [1, 2]


def test_asking_again_keeps_the_place_and_the_slot():
    g = gate(concurrent=1)
    first = g.acquire("run-a", T0)
    assert g.acquire("run-a", T0 + 1).granted
    g.acquire("run-b", T0 + 1)
    g.acquire("run-c", T0 + 1)
    assert g.acquire("run-b", T0 + 2).position == 1
    assert g.acquire("run-b", T0 + 3).position == 1
    assert [run_id for run_id, _ in g.waiters] == ["run-b", "run-c"]
    assert g.holders["run-a"] == T0 + 1 + LEASE > first.lease_expires


def test_release_is_idempotent_and_frees_only_what_the_run_held():
    g = gate()
    for run_id in ("run-a", "run-b", "run-c"):
        g.acquire(run_id, T0)
    assert g.release("run-a", T0 + 1).released is True
    assert g.release("run-a", T0 + 1).released is False
    assert g.release("run-never-seen", T0 + 1).released is False
    assert set(g.holders) == {"run-b", "run-c"}
    assert g.waiters == []


def test_a_waiting_run_that_leaves_frees_no_slot_and_the_rest_move_up():
    g = gate()
    for run_id in ("run-a", "run-b", "run-c", "run-d"):
        g.acquire(run_id, T0)
    assert g.release("run-c", T0 + 1).released is True  # cancelled while waiting
    assert set(g.holders) == {"run-a", "run-b"}
    assert g.admission("run-d").position == 1
    assert g.admission("run-c").position is None


def test_a_slot_whose_run_stopped_renewing_expires_and_the_next_run_gets_it():
    g = gate(concurrent=1)
    g.acquire("run-dead", T0)
    g.acquire("run-next", T0 + 1)
    assert not g.acquire("run-next", T0 + LEASE - 0.1).granted
    assert g.acquire("run-next", T0 + LEASE).granted
    assert "run-dead" not in g.holders


def test_renewing_keeps_the_slot_past_the_first_lease():
    g = gate(concurrent=1)
    g.acquire("run-a", T0)
    g.acquire("run-b", T0)
    g.renew("run-a", T0 + LEASE / 2)
    assert not g.acquire("run-b", T0 + LEASE + 1).granted
    assert g.holders["run-a"] == T0 + LEASE / 2 + LEASE


def test_a_waiter_that_stops_asking_leaves_the_line():
    g = gate(concurrent=1)
    g.acquire("run-a", T0)
    g.acquire("run-gone", T0)
    g.acquire("run-c", T0 + LEASE / 2)
    g.renew("run-a", T0 + LEASE / 2)
    assert g.acquire("run-c", T0 + LEASE).position == 1
    assert g.expire(T0 + LEASE) == []  # already dropped by the acquire above
    assert [run_id for run_id, _ in g.waiters] == ["run-c"]


def test_expire_reports_what_it_dropped():
    g = gate(concurrent=1)
    g.acquire("run-a", T0)
    g.acquire("run-b", T0)
    assert sorted(g.expire(T0 + LEASE)) == ["run-a", "run-b"]
    assert g.holders == {} and g.waiters == []


def test_a_run_whose_lease_lapsed_is_counted_again_when_it_renews():
    g = gate(concurrent=1)
    g.acquire("run-slow", T0)
    g.acquire("run-b", T0 + LEASE)  # run-slow's lease has lapsed: run-b gets the slot
    assert g.admission("run-b").granted
    answer = g.renew("run-slow", T0 + LEASE + 1)  # but its provider job is still running
    assert answer.granted
    assert set(g.holders) == {"run-slow", "run-b"}
    g.acquire("run-c", T0 + LEASE + 2)
    g.release("run-b", T0 + LEASE + 3)
    assert not g.admission("run-c").granted  # still at the limit with run-slow counted
    g.release("run-slow", T0 + LEASE + 4)
    assert g.admission("run-c").granted


def test_the_per_minute_cap_holds_grants_back_until_the_window_slides():
    g = gate(concurrent=5, per_minute=2)
    assert g.acquire("run-a", T0).granted
    g.release("run-a", T0 + 1)
    assert g.acquire("run-b", T0 + 2).granted
    g.release("run-b", T0 + 3)
    assert g.acquire("run-c", T0 + 4).position == 1  # slots are free, but two were granted this minute
    assert not g.acquire("run-c", T0 + RATE_WINDOW_SECONDS - 0.1).granted
    assert g.acquire("run-c", T0 + RATE_WINDOW_SECONDS + 0.1).granted
    assert not g.acquire("run-d", T0 + RATE_WINDOW_SECONDS + 0.2).granted
    assert g.acquire("run-d", T0 + 2 + RATE_WINDOW_SECONDS + 0.1).granted


def test_a_release_admits_as_many_waiters_as_there_are_free_slots():
    g = gate(concurrent=2)
    for run_id in ("run-a", "run-b", "run-c", "run-d", "run-e"):
        g.acquire(run_id, T0)
    g.release("run-a", T0 + 1)
    g.release("run-b", T0 + 1)
    assert set(g.holders) == {"run-c", "run-d"}
    assert g.admission("run-e").position == 1


def test_a_lower_limit_admits_no_one_until_the_holders_drop_below_it():
    g = gate(concurrent=3)
    for run_id in ("run-a", "run-b", "run-c"):
        g.acquire(run_id, T0)
    assert not g.acquire("run-d", T0 + 1, QuotaLimits(2, None, LEASE)).granted
    g.release("run-a", T0 + 2)
    assert not g.admission("run-d").granted
    g.release("run-b", T0 + 3)
    assert g.admission("run-d").granted


def test_the_state_survives_a_round_trip_through_json():
    import json

    g = gate(concurrent=1, per_minute=4)
    g.acquire("run-a", T0)
    g.acquire("run-b", T0 + 1)
    again = QuotaGate.from_dict(json.loads(json.dumps(g.to_dict())))
    assert again == g
    assert QuotaGate.from_dict(None) == QuotaGate()


@pytest.mark.parametrize(
    ("run_id", "now"),
    [("", T0), (None, T0), ("x" * 129, T0), ("run\n1", T0), ("run-a", math.nan), ("run-a", "soon"), ("run-a", True)],
)
def test_malformed_operations_are_refused_and_change_nothing(run_id, now):
    g = gate()
    g.acquire("run-held", T0)
    before = g.to_dict()
    for operation in (g.acquire, g.release, g.renew):
        with pytest.raises(ValueError):
            operation(run_id, now)
    assert g.to_dict() == before


@pytest.mark.parametrize("now", [math.nan, math.inf, None, "1800000000"])
def test_expire_refuses_a_clock_that_is_not_a_number(now):
    g = gate()
    g.acquire("run-held", T0)
    with pytest.raises(ValueError, match="now must be epoch seconds"):
        g.expire(now)  # NaN compares false with every lease: it must never read as "everything expired"
    assert set(g.holders) == {"run-held"}


@pytest.mark.parametrize(
    "limits",
    [
        {"concurrent": 0},
        {"concurrent": "2"},
        {"concurrent": True},
        {"per_minute": 0},
        {"per_minute": 1.5},
        {"lease_seconds": 0},
        {"lease_seconds": math.inf},
        {"lease_seconds": "60"},
        ["concurrent", 2],
    ],
)
def test_malformed_limits_are_refused_naming_the_field(limits):
    with pytest.raises(ValueError, match="limits"):
        QuotaLimits.from_dict(limits)


def test_the_key_is_one_per_endpoint_and_api_and_short():
    key = quota_key("https://a.openai.azure.com/", "videos")
    assert key == quota_key("https://A.openai.azure.com", "VIDEOS")
    assert key != quota_key("https://a.openai.azure.com", "jobs")
    assert key != quota_key("https://b.openai.azure.com", "videos")
    assert len(key) == 17 and key.isalnum()


def test_options_carry_the_settings_limits_and_vanish_when_the_gate_is_off():
    env = {"SORA_ENDPOINT": "http://127.0.0.1:8910", "SORA_MAX_CONCURRENT_JOBS": "3", "SORA_MAX_JOBS_PER_MINUTE": "4"}
    options = quota_options(Settings.from_env({**env, "SORA_QUOTA_LEASE_SECONDS": "10"}))
    assert options == {
        "key": quota_key("http://127.0.0.1:8910", "videos"),
        "limits": {"concurrent": 3, "per_minute": 4, "lease_seconds": 10.0},
    }
    assert QuotaLimits.from_dict(options["limits"]) == QuotaLimits(3, 4, 10.0)
    assert quota_options(Settings.from_env({**env, "SORA_QUOTA_GATE": "false"})) is None
    assert Settings.from_env(env).sora_quota_gate is True


@pytest.mark.parametrize(("name", "value"), [("SORA_QUOTA_GATE", "sometimes"), ("SORA_QUOTA_LEASE_SECONDS", "0.5")])
def test_malformed_gate_settings_are_named(name, value):
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({"SORA_ENDPOINT": "http://127.0.0.1:8910", name: value})


def test_a_waiting_run_asks_again_on_its_own_only_as_a_fallback_within_a_third_of_its_lease():
    assert waiting_fallback_delay(120) == 30.0
    assert waiting_fallback_delay(30) == 10.0


# --- who to wake ---


def test_a_release_names_the_waiter_it_let_in():
    g = gate(concurrent=1)
    for run_id in ("run-a", "run-b", "run-c"):
        g.acquire(run_id, T0)
    release = g.release("run-a", T0 + 1)
    assert release.to_dict() == {"released": True, "admitted": ["run-b"]}
    assert g.admission("run-b").granted


def test_a_release_that_frees_no_slot_names_no_one():
    g = gate(concurrent=1)
    for run_id in ("run-a", "run-b", "run-c"):
        g.acquire(run_id, T0)
    assert g.release("run-c", T0 + 1).admitted == ()  # a waiter leaving frees no slot
    assert g.release("run-c", T0 + 2).admitted == ()  # a repeated release wakes no one twice


def test_a_release_of_two_slots_names_both_waiters_in_order():
    g = gate(concurrent=2)
    for run_id in ("run-a", "run-b", "run-c", "run-d", "run-e"):
        g.acquire(run_id, T0)
    g.expire(T0)
    assert g.release("run-a", T0 + 1).admitted == ("run-c",)
    assert g.release("run-b", T0 + 1).admitted == ("run-d",)


def test_an_ask_that_finds_a_lapsed_slot_names_the_waiter_it_let_in_but_not_the_asker():
    g = gate(concurrent=1)
    g.acquire("run-dead", T0)
    g.acquire("run-b", T0 + 1)
    g.acquire("run-c", T0 + LEASE - 1)
    g.acquire("run-b", T0 + LEASE - 0.5)
    answer = g.acquire("run-c", T0 + LEASE + 0.1)  # run-dead's lease is over: the head of the line, run-b, gets it
    assert not answer.granted and answer.position == 1 and answer.admitted == ("run-b",)
    assert g.acquire("run-b", T0 + LEASE + 0.2).admitted == ()


def test_the_asker_itself_is_granted_not_named():
    g = gate(concurrent=1)
    g.acquire("run-a", T0)
    g.acquire("run-b", T0)
    g.release("run-a", T0 + 1)
    assert g.acquire("run-b", T0 + 2).to_dict() == {
        "granted": True, "position": None, "lease_expires": T0 + 2 + LEASE, "admitted": [],
    }  # fmt: skip
