"""The optional compiled build (README "Performance"): Cython compiles the pricing kernel
(engine/core/pricing/kernel.py, its C types in price_kernel.pxd) when a C compiler is at hand. The
plain-Python module is the fallback: without a compiler, or with TTENGINE_PURE=1, the install
skips the extension and the same file runs as Python."""

from __future__ import annotations

import os

from setuptools import Extension, setup

COMPILED_MODULES = ["engine/core/pricing/kernel.py"]


def extensions() -> list[Extension]:
    if os.environ.get("TTENGINE_PURE"):
        return []
    from Cython.Build import cythonize

    modules = [
        Extension(path[:-3].replace("/", "."), [path], optional=True)  # a failed build falls back to Python
        for path in COMPILED_MODULES
    ]
    return list(cythonize(modules, language_level=3, quiet=True))


setup(ext_modules=extensions())
