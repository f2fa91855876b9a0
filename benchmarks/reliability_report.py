"""The reliability report: replay every fault and restart scenario on a fresh local stack and write the table of
outcomes into docs/reliability.md (between its report markers), as read from the emulator's log and Azurite.

    .venv/bin/python -m benchmarks.reliability_report              # every scenario, rewrites the table
    .venv/bin/python -m benchmarks.reliability_report --only job-stalls    # one scenario, to stdout
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import input_report
from benchmarks.reliability_scenarios import FAULTS, RESTARTS, STACK_ENV, Outcome, Scenario, Stack
from emulators import processes

REPORT = processes.REPO_ROOT / "docs" / "reliability.md"
START, END = "<!-- reliability-report:start -->", "<!-- reliability-report:end -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    prog = "python -m benchmarks.reliability_report"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="run only this scenario (repeatable)")
    where = f"the Markdown file to update, or - for stdout (default: docs/{REPORT.name}, or - with --only)"
    parser.add_argument("--out", default=None, help=where)
    return parser.parse_args(argv)


def play_all(scenarios: list[Scenario], work: Path) -> list[tuple[Scenario, Outcome | Exception]]:
    """Each scenario on a stack of the kind it needs (one stack per kind, started once, stopped at the end)."""
    results: list[tuple[Scenario, Outcome | Exception]] = []
    for kind in dict.fromkeys(scenario.stack for scenario in scenarios):
        print(f"starting a stack ({kind})...", flush=True)
        stack = Stack.start(work / kind, app_env=STACK_ENV[kind])
        try:
            for scenario in (s for s in scenarios if s.stack == kind):
                print(f"  {scenario.name}: {scenario.injected}...", end=" ", flush=True)
                try:
                    outcome: Outcome | Exception = scenario.play(stack)
                except Exception as exc:  # a scenario that breaks is a row that says so, not a lost report
                    outcome = exc
                    stack.revive()
                results.append((scenario, outcome))
                print(verdict(scenario, outcome), flush=True)
        finally:
            stack.stop()
    return results


def verdict(scenario: Scenario, outcome: Outcome | Exception) -> str:
    """`as expected`, or what differed."""
    if isinstance(outcome, Exception):
        return f"error: {str(outcome).splitlines()[0][:200]}"
    problems = []
    if outcome.status != scenario.expect_status:
        problems.append(f"ended {outcome.status}, expected {scenario.expect_status}")
    if len(outcome.jobs_created) != scenario.expect_jobs:
        problems.append(f"{len(outcome.jobs_created)} provider jobs, expected {scenario.expect_jobs}")
    if scenario.expect_status == "completed" and not outcome.videos_intact:
        problems.append("a stored video is not intact")
    problems.extend(outcome.notes)
    return "as expected" if not problems else "; ".join(problems)


def table(results: list[tuple[Scenario, Outcome | Exception]]) -> str:
    """The Markdown table of outcomes."""
    lines = [
        "| scenario | fault injected / restart point | input case | terminal state | provider jobs created "
        "| create + remix calls | bytes stored | MP4s intact | seconds | verdict |",
        "|---|---|---|---|--:|--:|--:|---|--:|---|",
    ]
    for scenario, outcome in results:
        if isinstance(outcome, Exception):
            cells = ["-"] * 6
        else:
            calls = len(outcome.calls("create")) + len(outcome.calls("remix"))
            videos = outcome.videos.values()
            intact = f"{sum(c.intact for c in videos)}/{len(videos)}" if videos else "-"
            cells = [
                outcome.status,
                f"{len(outcome.jobs_created)} (expected {scenario.expect_jobs})",
                str(calls),
                f"{outcome.bytes_stored:,}",
                intact,
                f"{outcome.seconds:.1f}",
            ]
        row = [f"`{scenario.name}`", scenario.injected, scenario.case, *cells, verdict(scenario, outcome)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def section(results: list[tuple[Scenario, Outcome | Exception]], seconds: float) -> str:
    """The generated part of the report: how and where it was measured, and the table."""
    passed = sum(verdict(s, o) == "as expected" for s, o in results)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{START}\n"
        f"Generated {when} by `.venv/bin/python -m benchmarks.reliability_report` on {platform.system()} "
        f"({platform.machine()}, Python {platform.python_version()}) in {seconds:.0f} s: "
        f"**{passed} of {len(results)} scenarios as expected.**\n\n"
        f"{table(results)}\n"
        f"{END}"
    )


def write(report: str, out: str, *, start: str = START, end: str = END) -> None:
    """Replace the section between the markers in `out` (or append it), or print it for `-`."""
    if out == "-":
        print(report)
        return
    path = Path(out)
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        text = text[: text.index(start)] + report + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + report + "\n"
    path.write_text(text)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = [s for s in (*FAULTS, *RESTARTS) if not args.only or s.name in args.only]
    unknown = set(args.only) - {s.name for s in scenarios}
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soraflow-reliability-") as work:
        results = play_all(scenarios, Path(work))
    # A partial run never overwrites the full table unless asked to.
    out = args.out or ("-" if args.only else str(REPORT))
    write(section(results, time.monotonic() - started), out)
    inputs_ok = True
    if not args.only:
        inputs = input_report.play_inputs()
        write(input_report.input_section(inputs), out, start=input_report.START, end=input_report.END)
        inputs_ok = all(result.as_expected for result in inputs)
    return 0 if inputs_ok and all(verdict(s, o) == "as expected" for s, o in results) else 1


if __name__ == "__main__":
    sys.exit(main())
