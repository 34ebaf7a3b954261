"""Compile the matching engine with mypyc (``ketnoi engine build``).

The engine's Python files are compiled as they are, into a build folder outside the source
tree (``services.matcher.engine.compiled`` decides whether a process uses it). The build is
made in a scratch folder and moved into place with its manifest last, so an interrupted build
never looks usable. Needs a C compiler and Python's headers, as any C extension does.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.matcher.engine import compiled

ROOT = compiled.ENGINE_DIR.parents[2]
GROUP = f"{compiled.PACKAGE}.native"  # the shared library: services/matcher/engine/native__mypyc


class BuildError(RuntimeError):
    pass


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    """mypyc names modules after their paths, so it must run from the project root."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def build(native_dir: Path | None = None, jobs: int = 2) -> tuple[Path, float]:
    """Compile the engine into ``native_dir``; returns the build folder and the seconds taken."""
    from mypyc.build import mypycify  # build-time only: the service never imports mypy
    from setuptools import Distribution

    native_dir = (native_dir or compiled.default_native_dir()).resolve()
    native_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    before = compiled.fingerprint()
    sources = [str(p.relative_to(ROOT)) for p in compiled.compiled_sources()]
    with tempfile.TemporaryDirectory(prefix="engine-", dir=native_dir.parent) as scratch:
        staging = Path(scratch) / "native"
        with _cwd(ROOT):
            try:
                extensions = mypycify(
                    sources,
                    opt_level="3",
                    group_name=GROUP,
                    target_dir=str(Path(scratch) / "c"),
                )
            except SystemExit as exc:  # mypy reports type errors and exits
                raise BuildError(f"mypyc refused the engine's sources (exit {exc.code})") from exc
            dist = Distribution({"name": "ketnoi-engine", "ext_modules": extensions})
            command = dist.get_command_obj("build_ext")
            command.build_lib = str(staging)
            command.build_temp = str(Path(scratch) / "objects")
            command.parallel = jobs
            dist.run_command("build_ext")
        if compiled.fingerprint() != before:
            raise BuildError("the engine's sources changed during the build: build again")
        manifest = compiled.build_dir(staging) / compiled.MANIFEST
        manifest.write_text(json.dumps(before, indent=1, sort_keys=True), encoding="utf-8")
        old = Path(scratch) / "old"
        if native_dir.exists():
            native_dir.rename(old)
        staging.rename(native_dir)
    shutil.rmtree(Path(scratch), ignore_errors=True)
    return compiled.build_dir(native_dir), time.monotonic() - started


def status(native_dir: Path | None = None) -> str:
    native_dir = native_dir or compiled.default_native_dir()
    why = compiled.stale_reason(native_dir)
    return f"compiled build is fresh: {compiled.build_dir(native_dir)}" if why is None else why
