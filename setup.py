"""Compiles polyim's hot modules with mypyc when it can; installs plain Python when it cannot.

Everything else about the package is in ``pyproject.toml``. The modules to compile are listed once,
in ``polyim/build.py``. ``POLYIM_PURE=1`` asks for the pure-Python build; without a C compiler, or
when any module fails to compile, the build warns and installs pure Python: the same source, slower.
A partial build is never installed, since a half-compiled package would import stale extensions.
"""

import ast
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def _listed_modules() -> list[str]:
    """``COMPILED_MODULES`` of polyim/build.py, read without importing polyim."""
    tree = ast.parse((ROOT / "polyim" / "build.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COMPILED_MODULES":
            return list(ast.literal_eval(node.value))
    raise RuntimeError("polyim/build.py lists no COMPILED_MODULES")


def _ext_modules() -> list:
    if os.environ.get("POLYIM_PURE", "") not in ("", "0"):
        print("polyim: POLYIM_PURE set, building pure Python", file=sys.stderr)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("polyim: mypyc not available, building pure Python", file=sys.stderr)
        return []
    paths = [str(Path(*name.split(".")).with_suffix(".py")) for name in _listed_modules()]
    try:
        # One shared library, inside the package (``polyim/native__mypyc…``) so an editable install finds it.
        return mypycify(paths, opt_level="3", debug_level="0", group_name="polyim.native")
    except (Exception, SystemExit) as exc:  # mypyc refuses the source (a type error exits)
        print(f"polyim: mypyc failed ({exc!r}), building pure Python", file=sys.stderr)
        return []


class OptionalBuildExt(build_ext):
    """build_ext that falls back to pure Python, removing every extension, when compiling fails."""

    def run(self) -> None:
        # Extensions of an earlier build next to the sources (in-place and editable builds) would shadow
        # a module no longer compiled, or the pure-Python build: only this build's may remain.
        for stale in [*ROOT.glob("polyim/**/*.so"), *ROOT.glob("polyim/**/*.pyd")]:
            stale.unlink()
        try:
            super().run()
        except Exception as exc:  # no compiler, a compiler error, missing headers …
            print(f"polyim: compiling failed ({exc}), installing pure Python", file=sys.stderr)
            self._remove_outputs()

    def build_extensions(self) -> None:
        """Without gcc's warnings, and with hidden symbols.

        Python's ``-Wall`` and mypyc's own ``-W…`` flags run analysis passes that took 40 % of compiling
        the generated C (one file of 600,000 lines: 537 s against 308 s on this project's 2-core
        machine), for warnings nobody reads about generated code; the object code is the same byte for
        byte. The compiler is the longest step of the test run.

        ``-fvisibility=hidden``: every compiled function was an exported symbol, so each call from one
        to another went through the PLT and none could be inlined into its caller (another library might
        have replaced it at load time). Nothing links against these symbols: the modules' shims find
        their init functions through capsules, and only ``PyInit_…`` (marked visible by Python's headers)
        must stay exported. Under cachegrind, 1:1 OMTP chat ran 2 % fewer instructions per message, with
        10 % fewer instruction-cache and 19 % fewer data-cache misses (docs/performance.md, "sixteenth
        pass")."""
        compiler_so = getattr(self.compiler, "compiler_so", None)  # a Unix compiler's command (gcc, clang)
        hidden: list[str] = []
        if compiler_so is not None:
            self.compiler.compiler_so = [arg for arg in compiler_so if not arg.startswith("-W")] + ["-w"]
            hidden = ["-fvisibility=hidden"]
        for ext in self.extensions:
            ext.extra_compile_args = [
                arg for arg in ext.extra_compile_args if not arg.startswith("-W")
            ] + hidden
        super().build_extensions()

    def _remove_outputs(self) -> None:
        for ext in self.extensions:
            for path in {self.get_ext_fullpath(ext.name), str(ROOT / self.get_ext_filename(ext.name))}:
                if os.path.exists(path):
                    os.remove(path)
        self.extensions = []

    def get_outputs(self) -> list[str]:
        return [path for path in super().get_outputs() if os.path.exists(path)]


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
