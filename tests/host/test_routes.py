"""Route templates (emulators/functions/routes.py): shapes, constraints, precedence and malformed templates."""

from __future__ import annotations

import pytest

from emulators.functions.routes import RouteError, RouteTemplate


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("items/{id}", "items/7", {"id": "7"}),
        ("items/{id}", "ITEMS/7", {"id": "7"}),
        ("items/{id:int}", "items/-3", {"id": "-3"}),
        ("items/{id:int}", "items/x", None),
        ("items/{id:int:min(10)}", "items/9", None),
        ("items/{id:int:min(10)}", "items/10", {"id": "10"}),
        ("items/{id:length(2,3)}", "items/abcd", None),
        ("items/{flag:bool}", "items/TRUE", {"flag": "TRUE"}),
        ("items/{when:datetime}", "items/2024-01-02", {"when": "2024-01-02"}),
        ("items/{code:regex(^[a-z]{{2}}\\d$)}", "items/ab1", {"code": "ab1"}),
        ("pages/{page?}", "pages", {}),
        ("pages/{page=1}", "pages", {"page": "1"}),
        ("files/{*rest}", "files", {}),
        ("files/{*rest}", "files/a/b", {"rest": "a/b"}),
        ("{name}.{ext}", "report.pdf", {"name": "report", "ext": "pdf"}),
        ("", "", {}),
    ],
)
def test_templates_match_like_asp_net(template: str, path: str, expected):
    assert RouteTemplate.parse(template).match(path) == expected


@pytest.mark.parametrize(
    "template",
    ["items/{id", "items/id}", "items//x", "{a}/{A}", "{*rest}/more", "items/{id:nosuch}", "items/{1bad}"],
)
def test_malformed_templates_are_refused(template: str):
    with pytest.raises(RouteError):
        RouteTemplate.parse(template)


def test_more_specific_templates_sort_first():
    templates = ["items/{*rest}", "items/{name}", "items/{id:int}", "items/latest"]
    ordered = sorted((RouteTemplate.parse(t) for t in templates), key=RouteTemplate.sort_key)
    assert [t.template for t in ordered] == ["items/latest", "items/{id:int}", "items/{name}", "items/{*rest}"]
