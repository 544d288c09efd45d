"""The compiled build's guard: a compiled module whose sources changed since it was built is not used.

`setup.py` writes each compiled module's source fingerprint beside it (`kernel.built`: the sha256 of
`kernel.py`). Imported first by `engine/__init__.py`, before any module of the
engine: when the extension is what Python would import but the sources no longer match the
fingerprint, the plain source is loaded instead, with a `RuntimeWarning` saying to rebuild
(`pip install -e .`), so an edited source is never shadowed by a stale extension.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import sys
import warnings
from pathlib import Path

#: The modules the compiled build compiles (setup.py's COMPILED_MODULES, as module names).
COMPILED = ("engine.core.pricing.kernel", "engine.core.pricing.offer")


def fingerprint(source: Path) -> str:
    """The sha256 of a module's source, its .py (as setup.py: the .pxd only types it, and an
    installed package has none)."""
    return hashlib.sha256(source.read_bytes()).hexdigest()


def guard(names: tuple[str, ...] = COMPILED) -> list[str]:
    """Load the plain source of every compiled module of `names` that is stale; their names."""
    stale = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or name in sys.modules:
            continue
        origin = Path(spec.origin)
        if not origin.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            continue  # the plain build
        source = origin.parent / (name.rpartition(".")[2] + ".py")
        built = source.with_suffix(".built")
        recorded = built.read_text().strip() if built.exists() else ""
        if not source.exists() or recorded == fingerprint(source):
            continue
        warnings.warn(
            f"{source} changed since its extension was built: running the source as plain Python"
            " (run `pip install -e .` again to compile it)",
            RuntimeWarning,
            stacklevel=2,
        )
        plain = importlib.util.spec_from_file_location(name, source)
        assert plain is not None
        assert plain.loader is not None
        module = importlib.util.module_from_spec(plain)
        sys.modules[name] = module
        plain.loader.exec_module(module)
        stale.append(name)
    return stale
