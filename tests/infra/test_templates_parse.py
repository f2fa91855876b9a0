"""Every Bicep file under infra/ parses; a malformed one does not (so the parse is a real check)."""

import pytest
from lark.exceptions import UnexpectedInput

from tests.infra.templates import INFRA, bicep_files, broken_copy, parse


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_bicep_file_parses(path):
    template = parse(path)
    assert template.get("resources") or template.get("modules"), f"{path.name} declares nothing"


def test_the_templates_are_the_ones_the_deployment_uses():
    names = {p.relative_to(INFRA).as_posix() for p in bicep_files()}
    assert {"main.bicep", "app/api.bicep", "app/rbac.bicep", "app/scheduler.bicep", "app/key-vault.bicep"} <= names


def test_a_template_with_a_syntax_error_is_rejected(tmp_path):
    copy = broken_copy(tmp_path, "app/scheduler.bicep", "  parent: scheduler\n", "  parent: scheduler\n  name: {\n")
    with pytest.raises(UnexpectedInput):
        parse(copy / "app/scheduler.bicep")
