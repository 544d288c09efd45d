"""The optional compiled build (README "Performance"). Cython compiles the pricing kernel
(engine/core/pricing/kernel.py, its C types in kernel.pxd) and the odds' arithmetic beside it
(offer.py, offer.pxd; one module until issue 30) when a C compiler is at hand: 391 -> 19 us a
position. Nothing else: the core's modules compiled without types bought 1.18x on the pipeline
(115.5 -> 97.9 us a frame with prices), below the 1.5x that would pay for the build's minutes, stale
extensions and frames nobody can debug. Without a compiler, or with TTENGINE_PURE=1, the install skips
the extension and the same file runs as Python.

Each compiled module's source is fingerprinted at build time (`<module>.built`, beside it); at import
`engine._build` loads the plain source, with a warning, when it no longer matches: an edited source is
never shadowed by a stale extension."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from setuptools import Extension, setup

#: What the compiled build compiles (tests/core/pricing/test_kernel.py checks each one is compiled in that build).
COMPILED_MODULES = ["engine/core/pricing/kernel.py", "engine/core/pricing/offer.py"]


def fingerprint(module: str) -> str:
    """The sha256 of a compiled module's source (its .py: the .pxd only types it, and is not installed)."""
    return hashlib.sha256(Path(module).read_bytes()).hexdigest()


def extensions() -> list[Extension]:
    if os.environ.get("TTENGINE_PURE"):
        return []
    from Cython.Build import cythonize

    modules = [
        Extension(path[:-3].replace("/", "."), [path], optional=True)  # a failed build falls back to Python
        for path in COMPILED_MODULES
    ]
    for path in COMPILED_MODULES:
        Path(path).with_suffix(".built").write_text(fingerprint(path) + "\n")
    # The annotations are Python's, for mypy: Cython is not to enforce them as C types.
    directives = {"annotation_typing": False}
    return list(cythonize(modules, language_level=3, quiet=True, compiler_directives=directives))


setup(ext_modules=extensions())
