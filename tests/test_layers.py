"""Layers point one way (issue 14): the core imports nothing above it; feed maps JSON to the core's
types; io and the runtime sit above both."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"
#: Each layer and the packages it must not import (everything above it).
ABOVE = {
    "core": ("engine.feed", "engine.io", "engine.match", "engine.cli", "engine.playback", "engine.testing"),
    "feed": ("engine.io", "engine.match", "engine.cli", "engine.playback", "engine.testing"),
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("layer", sorted(ABOVE))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    modules = sorted((ENGINE / layer).glob("*.py"))
    assert modules
    for path in modules:
        for imported in _imports(path):
            assert not imported.startswith(ABOVE[layer]), f"{path.name} imports {imported}"


def test_every_exported_name_is_in_all_and_loads() -> None:
    """`engine.__all__` and the TYPE_CHECKING imports `_exports` reads name the same things."""
    import engine

    assert set(engine.__all__) == set(engine._EXPORTS)
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
