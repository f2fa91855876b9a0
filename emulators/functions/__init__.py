"""A local Azure Functions host with the Durable extension, for machines without Core Tools.

`python -m emulators.functions --app-dir DIR` loads DIR/function_app.py (any Python v2-model app), serves its
HTTP triggers, runs orchestrations through the Durable SDK's own replay handle, activities, entities and blob
triggers, and keeps every instance in SQLite so a restart resumes them. See docs/local-host.md.
"""
