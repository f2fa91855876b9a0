"""The deployed app runs on requirements.txt alone: no layer imports the dev-only httpx stack, at import or later."""

import re
import subprocess
import sys

from emulators.processes import REPO_ROOT

DEPLOYED_PACKAGES = ("soraflow", "triggers", "activities", "orchestrators", "entities")

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
