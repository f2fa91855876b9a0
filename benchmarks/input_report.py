"""The hostile-input part of the reliability report: every case of every corpus, run, and its outcome.

The corpora are data in the test modules (`CASES`); this runs those modules with pytest and reads each case's
outcome from its tests. A case is "refused as expected" only when every test of it passed: those tests read
Azurite, the durable store and the Sora emulator's request log to prove that nothing started, nothing was
created at the provider and nothing was stored (provider-answer cases: exactly one job, no video).

    .venv/bin/python -m benchmarks.input_report      # prints the section; the reliability report embeds it
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from emulators.processes import REPO_ROOT

START = "<!-- input-report:start -->"
END = "<!-- input-report:end -->"


@dataclass(frozen=True)
class Corpus:
    boundary: str
    path: str
    module: str
    case_id: Callable[[object], str]
    expected: Callable[[object], str]
    jobs: int = 0  # provider jobs each case should create


def _status(case) -> str:
    status = case.status if isinstance(case.status, int) else "/".join(map(str, case.status))
    return f"{status}, names `{case.field}`" if case.field else f"{status}"


CORPORA = (
    Corpus("HTTP API", "tests/e2e/hostile/test_http_inputs.py", "tests.e2e.hostile.test_http_inputs",
           lambda c: c.name, _status),
    Corpus("dropped request files", "tests/e2e/hostile/test_blob_inputs.py", "tests.e2e.hostile.test_blob_inputs",
           lambda c: c.name, lambda c: f"error manifest naming `{c.field}`" if c.field else "ignored (not a request)"),
    Corpus("provider answers", "tests/e2e/hostile/test_provider_answers.py",
           "tests.e2e.hostile.test_provider_answers", lambda c: c.name,
           lambda c: f"run failed `{c.run_error}`, one clean line", jobs=1),
    Corpus("app settings", "tests/integration/test_hostile_settings.py", "tests.integration.test_hostile_settings",
           lambda c: f"{c.name}={(c.value or 'unset')[:24]}", lambda c: f"error naming `{c.expected}`"),
)  # fmt: skip


@dataclass(frozen=True)
class CaseResult:
    corpus: Corpus
    case: str
    expected: str
    tests: int
    passed: int

    @property
    def as_expected(self) -> bool:
        return self.tests > 0 and self.passed == self.tests


class _Outcomes:
    """A pytest plugin that keeps each test's outcome (a failed setup or teardown counts against it)."""

    def __init__(self):
        self.failed: set[str] = set()
        self.passed: set[str] = set()

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.add(report.nodeid)
        elif report.when == "call" and report.passed:
            self.passed.add(report.nodeid)


def play_inputs() -> list[CaseResult]:
    """Run every corpus' tests and sort their outcomes by case."""
    outcomes = _Outcomes()
    paths = [str(REPO_ROOT / corpus.path) for corpus in CORPORA]
    pytest.main([*paths, "-q", "-p", "no:cacheprovider", "--no-header", "-rN"], plugins=[outcomes])
    results = []
    for corpus in CORPORA:
        for case in importlib.import_module(corpus.module).CASES:
            marker = f"[{corpus.case_id(case)}]"
            mine = [n for n in outcomes.passed | outcomes.failed if n.startswith(corpus.path) and n.endswith(marker)]
            passed = sum(1 for n in mine if n in outcomes.passed and n not in outcomes.failed)
            results.append(CaseResult(corpus, corpus.case_id(case), corpus.expected(case), len(mine), passed))
    return results


def input_section(results: list[CaseResult]) -> str:
    """The report section: one summary row per boundary, then every case."""
    good = sum(r.as_expected for r in results)
    lines = [
        START,
        f"**{good} of {len(results)} hostile or malformed inputs refused as expected.** Per boundary:",
        "",
        "| boundary | cases | refused as expected | runs started | provider jobs created | bytes stored |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for corpus in CORPORA:
        rows = [r for r in results if r.corpus is corpus]
        ok = [r for r in rows if r.as_expected]
        jobs = f"{corpus.jobs} per case" if corpus.jobs else "0"
        runs = "1 per case (fails)" if corpus.jobs else "0"
        lines.append(f"| {corpus.boundary} | {len(rows)} | {len(ok)} | {runs} | {jobs} | 0 |")
    lines += ["", "<details><summary>Every case</summary>", "", "| boundary | case | expected | verdict |",
              "|---|---|---|---|"]  # fmt: skip
    for r in results:
        verdict = "as expected" if r.as_expected else f"**NOT as expected** ({r.passed}/{r.tests} tests passed)"
        lines.append(f"| {r.corpus.boundary} | `{r.case}` | {r.expected} | {verdict} |")
    lines += ["", "</details>", END]
    return "\n".join(lines)


def main() -> int:
    results = play_inputs()
    print(input_section(results))
    return 0 if all(r.as_expected for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
