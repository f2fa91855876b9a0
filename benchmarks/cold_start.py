"""How long `import function_app` takes next to the Functions SDKs alone, in a venv built from requirements.txt only.

The floor is `import azure.functions, azure.durable_functions` (what any v2 Durable app pays); the app is everything
`import function_app` adds on top, measured in the same process right after the floor. Each sample is a fresh
interpreter, floor and app runs alternate, and bytecode is cached for both (under the work dir, not the repo). Then
the app is started on the local Functions host and its first requests are timed.

    .venv/bin/python -m benchmarks.cold_start [--repeat 15] [--work .soraflow/benchmarks/cold-start]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import venv
from pathlib import Path

from emulators.processes import REPO_ROOT, running, soraflow_settings, start_azurite, start_soraflow_host

# The test that fails when importing the app loads one of these is the list's owner.
from tests.unit.test_function_app import HEAVY_MODULES

FLOOR = "import azure.functions, azure.durable_functions"
# One sample: the floor, then the app on top of it, both timed inside the interpreter (its own startup excluded).
SAMPLE = f"""
import json, sys, time
started = time.perf_counter()
{FLOOR}
floor = time.perf_counter() - started
app = None
if sys.argv[1] == "app":
    started = time.perf_counter()
    import function_app
    app = time.perf_counter() - started
heavy = {HEAVY_MODULES!r}
loaded = sorted({{h for h in heavy for name in sys.modules if name == h or name.startswith(h + ".")}})
print(json.dumps({{"floor": floor, "app": app, "heavy": loaded}}))
"""


def deployed_venv(work: Path) -> Path:
    """A venv with requirements.txt alone (no dev tools), built once and rebuilt when requirements.txt changes."""
    requirements = REPO_ROOT / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    home = work / "venv"
    python = home / "bin" / "python"
    stamp = home / "requirements.sha256"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    print(f"building a venv from requirements.txt alone in {home} ...", flush=True)
    venv.EnvBuilder(clear=True, with_pip=True).create(home)
    pip = [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install requirements.txt:\n{done.stderr}")
    stamp.write_text(digest + "\n")
    return python


def sample(python: Path, kind: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [str(python), "-c", SAMPLE, kind], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_imports(python: Path, work: Path, repeat: int) -> dict:
    """Medians of `repeat` alternating floor-only and floor-then-app interpreters."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "PYTHONDONTWRITE"))}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    sample(python, "app", env)  # compiles and caches the bytecode of both
    floors, on_top, heavy = [], [], set()
    for _ in range(repeat):
        floors.append(sample(python, "floor", env)["floor"])
        app = sample(python, "app", env)
        on_top.append(app["app"])
        heavy.update(app["heavy"])
    floor = statistics.median(floors)
    app = statistics.median(on_top)
    return {"floor": floor, "app_on_top": app, "app": floor + app, "ratio": (floor + app) / floor, "heavy": heavy}


def get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
        return response.status, time.perf_counter() - started


def first_requests(work: Path) -> dict:
    """Start Azurite and the local host; time the host until it listens, then its first requests."""
    host_work = Path(tempfile.mkdtemp(prefix="host-", dir=work))
    with running(start_azurite(host_work / "azurite")) as azurite:
        connection = azurite.extra["connection_string"]
        # No provider is called: /api/health touches nothing, /api/videos reads the run index (the table SDK).
        settings = soraflow_settings(connection, "http://127.0.0.1:9", "unused")
        started = time.perf_counter()
        with running(start_soraflow_host(host_work, settings)) as host:
            listening = time.perf_counter() - started
            base = f"http://127.0.0.1:{host.port}/api"
            health = get(f"{base}/health")
            first_list = get(f"{base}/videos")
            second_list = get(f"{base}/videos")
    return {"listening": listening, "health": health, "first_list": first_list, "second_list": second_list}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="interpreters of each kind (default: 15)")
    parser.add_argument("--work", type=Path, default=REPO_ROOT / ".soraflow" / "benchmarks" / "cold-start")
    parser.add_argument("--skip-host", action="store_true", help="measure the imports only")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    python = deployed_venv(args.work)

    imports = measure_imports(python, args.work, args.repeat)
    print(f"\nimports in a venv of requirements.txt alone ({python.parent.parent}), medians of {args.repeat}:")
    print(f"  floor  {FLOOR}: {imports['floor'] * 1000:7.1f} ms")
    print(f"  app    import function_app (floor included): {imports['app'] * 1000:7.1f} ms")
    print(f"         of which the app's own: {imports['app_on_top'] * 1000:7.1f} ms")
    print(f"  ratio  app / floor: {imports['ratio']:.2f}x (target <= 1.20x)")
    print(f"  heavy modules loaded by the import: {', '.join(sorted(imports['heavy'])) or 'none'}")
    if args.skip_host:
        return 0

    host = first_requests(args.work)
    print(f"\nlocal Functions host ({sys.executable}):")
    print(f"  started and listening: {host['listening'] * 1000:7.0f} ms")
    for label, key in (("GET /api/health (first)", "health"), ("GET /api/videos (first)", "first_list"),
                       ("GET /api/videos (second)", "second_list")):  # fmt: skip
        status, seconds = host[key]
        print(f"  {label}: {seconds * 1000:7.1f} ms (HTTP {status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
