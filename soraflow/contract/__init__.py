"""The HTTP API's one contract: pydantic models (`schema`) that validation checks and the OpenAPI document
(`document`) is built from. Import on first use only: pydantic must not load when `function_app` is indexed."""
