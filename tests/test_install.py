"""README's test command installs the dependency group `test` (no second build of the engine): it
must name exactly what the extras testing, plot, table, bus and test name, so `pip install
'.[test]'` (CI's plain build) and the README's line install the same libraries."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_test_group_names_what_the_test_extras_name() -> None:
    project = tomllib.loads(PYPROJECT.read_text())
    extras = project["project"]["optional-dependencies"]
    named = set()
    for extra in ("testing", "plot", "table", "bus", "test"):
        named |= {requirement for requirement in extras[extra] if not requirement.startswith("ttengine[")}
    assert set(project["dependency-groups"]["test"]) == named
    assert extras["test"][0] == "ttengine[testing,plot,table,bus]"
