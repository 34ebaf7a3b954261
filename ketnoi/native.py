"""Compile the matching engine with mypyc (``ketnoi engine build``).

The engine's Python files are compiled as they are, into a build folder outside the source
tree (``services.matcher.engine.compiled`` decides whether a process uses it). mypyc names
modules after their paths and type-checks what they import, so the engine and the ``schemas``
package it builds on are copied into a scratch tree first: the same build works from a
checkout and from an installed package (the container image). The result is moved into place
with its manifest last, so an interrupted build never looks usable. Needs a C compiler and
Python's headers, as any C extension does.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.matcher.engine import compiled

STRICTNESS = ["--disallow-untyped-defs", "--disallow-incomplete-defs"]
"""mypy checks only annotated functions: an unannotated one would compile unchecked."""
GROUP = f"{compiled.PACKAGE}.native"  # the shared library: services/matcher/engine/native__mypyc


class BuildError(RuntimeError):
    pass


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _copy_sources(tree: Path) -> list[str]:
    """The engine, its parent packages and ``schemas`` (Python files only) under ``tree``;
    returns the paths of the modules to compile, relative to it."""
    python_only = shutil.ignore_patterns("*.json", "*.csv", "__pycache__")
    engine = tree.joinpath(*compiled.PACKAGE.split("."))
    shutil.copytree(compiled.ENGINE_DIR, engine, ignore=python_only)
    for package in (engine.parent, engine.parent.parent):  # services.matcher, services
        (package / "__init__.py").touch()
    shutil.copytree(compiled.schemas_dir(), tree / "schemas", ignore=python_only)
    return [str(p.relative_to(tree)) for p in compiled.compiled_sources(engine)]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per folder: a second waits, then replaces the first's result."""
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _check_replaceable(native_dir: Path) -> None:
    """The build replaces ``native_dir`` whole: refuse a folder that is not an earlier build
    (KETNOI_NATIVE_DIR pointed at the wrong place must not cost its contents)."""
    earlier_build = (compiled.build_dir(native_dir) / compiled.MANIFEST).is_file()
    if native_dir.exists() and any(native_dir.iterdir()) and not earlier_build:
        raise BuildError(f"{native_dir} is not an engine build: not replacing it")


def build(native_dir: Path | None = None, jobs: int = 2) -> tuple[Path, float]:
    """Compile the engine into ``native_dir``; returns the build folder and the seconds taken."""
    from mypyc.build import mypycify  # build-time only: the service never imports mypy
    from setuptools import Distribution

    native_dir = (native_dir or compiled.default_native_dir()).resolve()
    _check_replaceable(native_dir)
    if not shutil.which(os.environ.get("CC", "cc")):
        raise BuildError("no C compiler (cc) on PATH: install gcc, or run KETNOI_ENGINE=python")
    native_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    before = compiled.fingerprint()
    with (
        _locked(native_dir.parent / f".{native_dir.name}.lock"),
        tempfile.TemporaryDirectory(prefix="engine-", dir=native_dir.parent) as scratch,
    ):
        staging = Path(scratch) / "native"
        sources = _copy_sources(Path(scratch) / "src")
        with _cwd(Path(scratch) / "src"):
            try:
                extensions = mypycify(
                    [*STRICTNESS, *sources],
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
        copied = compiled.fingerprint(Path(scratch).joinpath("src", *compiled.PACKAGE.split(".")))
        if copied != before or compiled.fingerprint() != before:
            raise BuildError("the engine's sources changed during the build: build again")
        manifest = compiled.build_dir(staging) / compiled.MANIFEST
        manifest.write_text(json.dumps(before, indent=1, sort_keys=True), encoding="utf-8")
        _check_replaceable(native_dir)  # again, under the lock
        if native_dir.exists():  # a process starting between these two renames finds no
            native_dir.rename(Path(scratch) / "old")  # build: auto runs the source, compiled
        staging.rename(native_dir)  # refuses to start; the old build goes with the scratch
    return compiled.build_dir(native_dir), time.monotonic() - started


def status(native_dir: Path | None = None) -> str:
    native_dir = native_dir or compiled.default_native_dir()
    why = compiled.stale_reason(native_dir)
    return f"compiled build is fresh: {compiled.build_dir(native_dir)}" if why is None else why
