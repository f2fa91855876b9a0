"""Activity over the run index: write a run's row when it changes stage or ends."""

from __future__ import annotations

import azure.durable_functions as df

from activities.failures import activity_errors
from soraflow.run_index import run_index

bp = df.Blueprint()

INDEX_RUN = "index_run"


@bp.activity_trigger(input_name="payload")
def index_run(payload: dict) -> bool:
    """Record `payload["run"]` (a run resource) in the run index; False when the stored row is already newer."""
    with activity_errors():
        return run_index().record(payload["run"])
