"""Layers point one way (issues 14, 22): every module of `engine` imports only its own layer and
the layers below it — the match, then the markets, then the prices, then the ratings, then the engine state and its
step, then the feed, the adapter, the runtime, the analyses, the desk and the command line — and the core's
modules import one another without a cycle. Every import counts: at the top, inside a function,
or for types only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"

#: The layers, lowest first: a module may import its own layer and those before it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("match", ("engine.core.match",)),
    ("markets", ("engine.core.markets",)),
    ("pricing", ("engine.core.pricing",)),
    ("player ratings: a fixture's prior", ("engine.ratings",)),
    (
        "engine state and step",
        (
            "engine.core.config",
            "engine.core.state",
            "engine.core.events",
            "engine.core.reduce",
            "engine.core.update",
            "engine.core",
        ),
    ),
    ("feed", ("engine.feed",)),
    ("adapter", ("engine.io",)),
    ("generated matches", ("engine.testing",)),
    ("runtime", ("engine.playback", "engine.runtime")),
    ("analyses and what people see", ("engine.analysis",)),
    ("the desk: many fixtures as one service", ("engine.desk",)),
    ("the bus: the stream over RabbitMQ", ("engine.bus",)),
    ("command line", ("engine.cli", "engine.__main__", "engine")),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(ENGINE.rglob("*.py"))}


def _layer(module: str) -> int:
    """The index of the layer a module belongs to (the longest prefix that names it)."""
    best, found = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found >= 0, f"{module} is in no layer: add it to LAYERS"
    return found


def _imports(path: Path) -> Iterator[str]:
    """Every engine module `path` imports (`from engine import playback` names the module engine.playback)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "engine":
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            named = [name for name in submodules if name in MODULES]
            yield from named or [node.module]
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "engine")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_nothing_above_its_layer(module: str) -> None:
    own = _layer(module)
    for imported in _imports(MODULES[module]):
        if imported == "engine" and module != "engine":
            raise AssertionError(f"{module} imports the package facade `engine`: import the module itself")
        assert _layer(imported) <= own, (
            f"{module} ({LAYERS[own][0]}) imports {imported} ({LAYERS[_layer(imported)][0]}), a layer above it"
        )


def test_the_core_has_no_import_cycle() -> None:
    core = {name: path for name, path in MODULES.items() if name.startswith("engine.core")}
    graph = {name: sorted(set(_imports(path)) & core.keys() - {name}) for name, path in core.items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, "import cycle: " + " -> ".join([*visiting[visiting.index(name) :], name])
        visiting.append(name)
        for imported in graph[name]:
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert len(done) == len(core) > 20


def test_every_exported_name_is_in_all_and_loads() -> None:
    """`engine.__all__` and the TYPE_CHECKING imports `_exports` reads name the same things."""
    import engine

    assert set(engine.__all__) == set(engine._EXPORTS)
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
