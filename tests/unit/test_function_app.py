"""The deployed app runs on requirements.txt alone (no dev-only httpx stack), and importing it loads no heavy SDK."""

import json
import os
import re
import subprocess
import sys

from emulators.processes import REPO_ROOT

DEPLOYED_PACKAGES = ("soraflow", "triggers", "activities", "orchestrators", "entities")

# Loaded on first use only, never by `import function_app`: together they doubled the app's cold start
# (`benchmarks/cold_start.py` measures it). The Functions SDKs and what they import themselves are the floor.
HEAVY_MODULES = (
    "azure.core",
    "azure.storage",
    "azure.data",
    "azure.identity",
    "azure.monitor",
    "opentelemetry.sdk",
    "msal",
    "requests",
    "urllib3",
    "charset_normalizer",
    "cryptography",
    "google.auth",
    "google.oauth2",
    "PIL",
    "imageio_ffmpeg",
    "pydantic",
    "httpx",
    "openai",
)

LIST_LOADED_MODULES = """
import json, sys
import function_app
print(json.dumps(sorted(sys.modules)))
"""

# Importing any of these raises, as it would where only requirements.txt is installed; then every module of every
# deployed package is imported, so an import inside a module that function_app does not load is caught too.
IMPORT_WITH_HTTPX_ABSENT = """
import importlib, importlib.abc, pkgutil, sys

BLOCKED = {"httpx", "httpcore", "h11", "openai"}

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: not in requirements.txt)")
        return None

sys.meta_path.insert(0, NotInstalled())
import function_app
for package in PACKAGES:
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(module.name)
print(sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED))
print(len(function_app.app.get_functions()))
"""


def test_the_app_and_every_deployed_module_import_without_httpx():
    code = f"PACKAGES = {DEPLOYED_PACKAGES!r}\n" + IMPORT_WITH_HTTPX_ABSENT
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded, functions = done.stdout.strip().splitlines()[-2:]
    assert loaded == "[]"
    assert int(functions) > 0


def test_no_deployed_source_imports_httpx_even_inside_a_function():
    sources = [REPO_ROOT / "function_app.py"]
    for package in DEPLOYED_PACKAGES:
        sources += sorted((REPO_ROOT / package).rglob("*.py"))
    importing = re.compile(r"^\s*(import|from)\s+httpx\b", re.MULTILINE)
    offenders = [str(path.relative_to(REPO_ROOT)) for path in sources if importing.search(path.read_text())]
    assert offenders == []


def test_httpx_is_a_development_dependency_only():
    deployed = (REPO_ROOT / "requirements.txt").read_text().lower()
    development = (REPO_ROOT / "requirements-dev.txt").read_text().lower()
    assert not re.search(r"^httpx\b", deployed, re.MULTILINE)
    assert re.search(r"^requests==", deployed, re.MULTILINE)
    assert re.search(r"^httpx==", development, re.MULTILINE)


def loaded_by_importing_the_app(env_overrides: dict[str, str] | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLICATIONINSIGHTS_")}
    done = subprocess.run(
        [sys.executable, "-c", LIST_LOADED_MODULES],
        cwd=REPO_ROOT,
        env={**env, **(env_overrides or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def heavy(modules: list[str]) -> list[str]:
    return sorted({h for h in HEAVY_MODULES for name in modules if name == h or name.startswith(h + ".")})


def test_importing_the_app_loads_no_storage_identity_http_image_or_provider_sdk():
    assert heavy(loaded_by_importing_the_app()) == []


def test_importing_the_app_with_every_provider_configured_still_loads_no_heavy_sdk():
    # Settings are read on first use, not at import: configuring providers must not pull their SDKs in early.
    configured = {
        "SORA_ENDPOINT": "http://127.0.0.1:9",
        "SORA_API_KEY": "unused",
        "FAL_KEY": "unused",
        "VERTEX_PROJECT": "unused",
        "VIDEO_STORAGE": "UseDevelopmentStorage=true",
    }
    assert heavy(loaded_by_importing_the_app(configured)) == []


def test_the_heavy_module_check_sees_a_module_the_app_loads():
    # The check itself: a module function_app does load is reported, so an empty report means something.
    modules = loaded_by_importing_the_app()
    assert "azure.durable_functions" in modules
    assert heavy([*modules, "azure.storage.blob", "PIL.Image"]) == ["PIL", "azure.storage"]
