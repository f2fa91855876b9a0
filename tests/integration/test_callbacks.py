"""Callback delivery against a real HTTP receiver on loopback."""

from __future__ import annotations

import time

import pytest

from soraflow.callbacks import SIGNATURE_HEADER, CallbackDeliveryError, deliver_callback, sign, verify
from tests.callback_receiver import CallbackReceiver

SECRET = "callback-secret"


def no_sleep(_seconds: float) -> None:
    pass


def test_delivery_is_signed_and_verifiable():
    with CallbackReceiver([200]) as receiver:
        result = deliver_callback(receiver.url, {"id": "run-1", "status": "completed"}, secret=SECRET, sleep=no_sleep)
    assert result.attempts == 1
    body, headers = receiver.received[0]
    assert verify(body, headers[SIGNATURE_HEADER], SECRET)
    assert not verify(body + b" ", headers[SIGNATURE_HEADER], SECRET)
    assert not verify(body, headers[SIGNATURE_HEADER], "another-secret")


def test_server_errors_are_retried_with_backoff_until_accepted():
    waits: list[float] = []
    with CallbackReceiver([503, 500, 204]) as receiver:
        result = deliver_callback(receiver.url, {"id": "run-1"}, secret=SECRET, sleep=waits.append)
    assert (result.status_code, result.attempts) == (204, 3)
    assert waits == [1.0, 2.0]
    assert len({body for body, _ in receiver.received}) == 1  # the same payload each time


def test_a_client_error_is_not_retried():
    with CallbackReceiver([400]) as receiver, pytest.raises(CallbackDeliveryError, match="HTTP 400") as info:
        deliver_callback(receiver.url, {"id": "run-1"}, secret=SECRET, sleep=no_sleep)
    assert len(receiver.received) == 1
    assert "receiver-secret" not in str(info.value)  # the URL's query is never echoed


def test_retries_are_bounded():
    with CallbackReceiver([503] * 10) as receiver, pytest.raises(CallbackDeliveryError, match="after 3 attempt"):
        deliver_callback(receiver.url, {"id": "run-1"}, secret=SECRET, attempts=3, sleep=no_sleep)
    assert len(receiver.received) == 3


def test_unreachable_receiver_fails_after_every_attempt():
    with CallbackReceiver([]) as receiver:
        url = receiver.url
    with pytest.raises(CallbackDeliveryError, match="ConnectionError"):
        deliver_callback(url, {"id": "run-1"}, secret=SECRET, attempts=2, sleep=no_sleep, timeout=2)


def test_without_a_secret_no_signature_is_sent():
    with CallbackReceiver([200]) as receiver:
        deliver_callback(receiver.url, {"id": "run-1"}, secret=None, sleep=no_sleep)
    assert SIGNATURE_HEADER.lower() not in {k.lower() for k in receiver.received[0][1]}


def test_stale_or_malformed_signatures_are_rejected():
    body = b'{"id":"run-1"}'
    old = sign(body, SECRET, int(time.time()) - 3600)
    assert not verify(body, old, SECRET)
    assert not verify(body, "garbage", SECRET)
    assert not verify(body, "t=abc,v1=00", SECRET)
