"""Calling user functions the way the Python worker does, with Core Tools' Executing/Executed log lines."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import azure.functions as func

from emulators.functions.application import FunctionSpec

log = logging.getLogger("host")

HTTP_REASON = "This function was programmatically called via the host APIs."


class InvocationContext(func.Context):
    """The `context` argument a function may declare (invocation id, name, directory)."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local_storage = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def thread_local_storage(self) -> threading.local:
        return self._thread_local_storage

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


def with_context(spec: FunctionSpec, kwargs: dict, invocation_id: str, directory: str) -> dict:
    """Add the `context` keyword when the function declares it and no binding already uses that name."""
    if "context" in spec.parameters and "context" not in kwargs:
        kwargs = {**kwargs, "context": InvocationContext(invocation_id, spec.name, directory)}
    return kwargs


async def invoke(
    spec: FunctionSpec,
    kwargs: dict,
    *,
    reason: str,
    directory: str,
    executor: Executor | None = None,
    invocation_id: str | None = None,
) -> Any:
    """Run a function (async on this loop, sync in `executor`), logging Executing/Executed like Core Tools."""
    invocation_id = invocation_id or str(uuid.uuid4())
    kwargs = with_context(spec, kwargs, invocation_id, directory)
    started = _executing(spec.name, reason, invocation_id)
    try:
        if spec.is_async:
            result = await spec.callable(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(executor, functools.partial(spec.callable, **kwargs))
    except BaseException as exc:
        _executed(spec.name, invocation_id, started, exc)
        raise
    _executed(spec.name, invocation_id, started, None)
    return result


def invoke_sync(name: str, call: Callable[[], Any], *, reason: str = "(null)") -> Any:
    """Run a synchronous call (an orchestrator or entity handle) with the same log lines."""
    invocation_id = str(uuid.uuid4())
    started = _executing(name, reason, invocation_id)
    try:
        result = call()
    except BaseException as exc:
        _executed(name, invocation_id, started, exc, quiet=True)
        raise
    _executed(name, invocation_id, started, None)
    return result


def _executing(name: str, reason: str, invocation_id: str) -> float:
    log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", name, reason, invocation_id)
    return time.perf_counter()


def _executed(name: str, invocation_id: str, started: float, error: BaseException | None, quiet=False) -> None:
    duration = int((time.perf_counter() - started) * 1000)
    if error is None:
        log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", name, invocation_id, duration)
        return
    detail = "" if quiet else "\n" + "".join(traceback.format_exception(error)).rstrip()
    log.error(
        "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\nResult: Failure\nException: %s: %s%s",
        name,
        invocation_id,
        duration,
        type(error).__name__,
        error,
        detail,
    )
