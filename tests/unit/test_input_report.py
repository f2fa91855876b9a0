"""The hostile-input report: every corpus case maps to tests that pytest really collects, and the section adds up."""

import importlib
import subprocess
import sys

from benchmarks.input_report import CORPORA, CaseResult, input_section
from emulators.processes import REPO_ROOT


def collected_ids() -> list[str]:
    paths = [corpus.path for corpus in CORPORA]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths],
        capture_output=True, text=True, cwd=REPO_ROOT, check=True,
    )  # fmt: skip
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_every_case_of_every_corpus_has_collected_tests():
    ids = collected_ids()
    for corpus in CORPORA:
        for case in importlib.import_module(corpus.module).CASES:
            marker = f"[{corpus.case_id(case)}]"
            assert any(i.startswith(corpus.path) and i.endswith(marker) for i in ids), (corpus.boundary, marker)


def test_the_section_counts_cases_and_flags_any_not_as_expected():
    http, files = CORPORA[0], CORPORA[1]
    results = [
        CaseResult(http, "json-truncated", "400, names `body`", tests=1, passed=1),
        CaseResult(http, "json-empty", "400, names `body`", tests=1, passed=0),
        CaseResult(files, "bad.json", "error manifest naming `body`", tests=0, passed=0),
    ]
    section = input_section(results)
    assert "**1 of 3 hostile or malformed inputs refused as expected.**" in section
    assert "| HTTP API | 2 | 1 | 0 | 0 | 0 |" in section
    assert "**NOT as expected** (0/1 tests passed)" in section
    assert "**NOT as expected** (0/0 tests passed)" in section  # a case with no tests is never counted as refused
