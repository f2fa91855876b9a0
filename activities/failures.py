"""How activities fail: a typed soraflow error becomes an ActivityFailure the orchestrator can read back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from soraflow.errors import SoraflowError
from soraflow.runs import ActivityFailure


@contextlib.contextmanager
def activity_errors() -> Iterator[None]:
    """Re-raise SoraflowErrors as ActivityFailure (code, message, retryable kept); anything else as it is."""
    try:
        yield
    except SoraflowError as error:
        raise ActivityFailure.from_error(error) from error
