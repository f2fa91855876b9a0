"""Activities on the local host: bindings besides the trigger, as the Functions host gives them on Azure."""

from __future__ import annotations

from tests.host.conftest import RunningHost
from tests.host.test_orchestrations import history, start

APP = "durable_features"


def test_an_activity_with_a_durable_client_raises_an_event_on_another_orchestration(module_host: RunningHost):
    sleeper = start(module_host, "sleeper")
    module_host.wait_for(sleeper, {"Running"})
    waker = start(module_host, "waker", sleeper)
    assert module_host.wait_for(waker)["output"] == {"raised": True}
    assert module_host.wait_for(sleeper)["output"] == {"woken_by": waker}
    assert not [e for e in history(module_host, sleeper) if e["EventType"] == "TimerFired"]


def test_an_event_an_activity_raises_on_an_ended_orchestration_is_refused_gone(module_host: RunningHost):
    ended = start(module_host, "sequence")
    module_host.wait_for(ended)
    output = module_host.wait_for(start(module_host, "waker", ended))["output"]
    assert output["raised"] is False and ended in output["error"] and "gone" in output["error"].lower()
