"""The optional compiled build (README "Performance"). Cython compiles the pricing kernel
(engine/core/pricing/kernel.py, its C types in kernel.pxd) and the hot modules of the core and the
decoder as they stand (plain Python, compiled without type declarations: measured 16-30 % off the
pipeline) when a C compiler is at hand. The plain-Python modules are the fallback: without a
compiler, or with TTENGINE_PURE=1, the install skips the extensions and the same files run as Python."""

from __future__ import annotations

import os

from setuptools import Extension, setup

#: What the compiled build compiles (tests/test_kernel.py checks each one is compiled in that build).
COMPILED_MODULES = [
    "engine/core/pricing/kernel.py",
    "engine/core/pricing/prices.py",
    "engine/core/reduce.py",
    "engine/core/state.py",
    "engine/core/match/state.py",
    "engine/core/match/sequence.py",
    "engine/core/match/timeline.py",
    "engine/core/markets/book.py",
    "engine/core/markets/book_update.py",
    "engine/core/markets/outcomes.py",
    "engine/feed/wire.py",
]


def extensions() -> list[Extension]:
    if os.environ.get("TTENGINE_PURE"):
        return []
    from Cython.Build import cythonize

    modules = [
        Extension(path[:-3].replace("/", "."), [path], optional=True)  # a failed build falls back to Python
        for path in COMPILED_MODULES
    ]
    # The annotations are Python's, for mypy: Cython is not to enforce them as C types.
    directives = {"annotation_typing": False}
    return list(cythonize(modules, language_level=3, quiet=True, compiler_directives=directives))


setup(ext_modules=extensions())
