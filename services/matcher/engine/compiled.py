"""Whether this process runs the engine's compiled build (mypyc) or its Python source.

The engine's modules are plain, fully typed Python, and mypyc compiles the very same files to
a C extension about 1.4x faster (``ketnoi engine build``, run by ``make install``). The build
lives outside the source tree, and this package puts it first on its ``__path__`` only when it
was built from exactly the files beside it: a build is never used for sources it was not made
from, so an edited engine never runs stale code.

``KETNOI_ENGINE`` chooses: ``auto`` (the default: the build when it is fresh, else the source,
which the worker logs with the reason), ``compiled`` (the build or an ImportError naming why
not: what the tests and the container image ask for) or ``python`` (the source, e.g. to
compare the two).
This module is the one the build leaves out, since it decides which build to use.
"""

from __future__ import annotations

import hashlib
import json
import os
import sysconfig
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parent
PACKAGE = "services.matcher.engine"
NOT_COMPILED = ("__init__.py", "compiled.py")
"""The package's entry (it must run before any build is chosen) and this module."""
MANIFEST = "manifest.json"
LIBRARY = "native__mypyc"  # the build's shared library, beside the modules
MODES = ("auto", "compiled", "python")


def default_native_dir() -> Path:
    """Where builds go unless KETNOI_NATIVE_DIR says otherwise: the checkout's .ketnoi/native
    (the engine is services/matcher/engine under the project root)."""
    override = os.environ.get("KETNOI_NATIVE_DIR")
    return Path(override).resolve() if override else ENGINE_DIR.parents[2] / ".ketnoi" / "native"


def schemas_dir(engine_dir: Path = ENGINE_DIR) -> Path:
    """The ``schemas`` package: a top-level package beside ``services``, in a checkout and in
    an installed package alike (both are installed side by side)."""
    return engine_dir.parents[2] / "schemas"


def compiled_sources(engine_dir: Path = ENGINE_DIR) -> list[Path]:
    """The modules mypyc compiles, in a stable order."""
    return sorted(p for p in engine_dir.glob("*.py") if p.name not in NOT_COMPILED)


def fingerprint(engine_dir: Path = ENGINE_DIR) -> dict[str, str]:
    """What a build must have been made from: the interpreter's extension ABI and the SHA-256
    (content, not timestamps, which a checkout changes) of every compiled module and of every
    module of ``schemas``, the top-level package beside ``services``: the build was
    type-checked against them, and compiled code checks those types when it runs."""
    schemas = schemas_dir(engine_dir)
    files = [(p.name, p) for p in compiled_sources(engine_dir)]
    files += [(f"schemas/{p.relative_to(schemas)}", p) for p in sorted(schemas.rglob("*.py"))]
    sources = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in files}
    return {"ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "", **sources}


def build_dir(native_dir: Path) -> Path:
    """The folder of compiled modules within a build: the package's own path below it."""
    return native_dir.joinpath(*PACKAGE.split("."))


def stale_reason(native_dir: Path, engine_dir: Path = ENGINE_DIR) -> str | None:
    """None when ``native_dir`` holds a build of exactly these sources, else why not."""
    manifest = build_dir(native_dir) / MANIFEST
    try:
        built = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no compiled build at {native_dir} (run `ketnoi engine build` or `make install`)"
    except (OSError, ValueError) as exc:
        return f"unreadable build manifest {manifest}: {exc}"
    if not (schemas_dir(engine_dir) / "__init__.py").is_file():
        return f"no schemas package at {schemas_dir(engine_dir)} to check the build against"
    wanted = fingerprint(engine_dir)
    if built != wanted:
        changed = sorted(k for k in wanted.keys() | built.keys() if wanted.get(k) != built.get(k))
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        named = ", ".join(changed[:5]) + more
        return f"the build at {native_dir} was made from other sources ({named})"
    suffix = wanted["ext_suffix"]
    modules = [f"{p.stem}{suffix}" for p in compiled_sources(engine_dir)] + [LIBRARY + suffix]
    missing = [name for name in modules if not (build_dir(native_dir) / name).is_file()]
    if missing:  # a module left out would quietly run from source beside compiled ones
        return f"the build at {native_dir} lacks {', '.join(missing[:5])}"
    return None


def choose(
    mode: str | None = None, native_dir: Path | None = None, engine_dir: Path = ENGINE_DIR
) -> tuple[Path | None, str | None]:
    """The folder of compiled modules to put first on the package path (None: the source),
    and why the source runs when the mode allowed a build (None otherwise). The caller says
    it: the engine is imported before the services configure logging."""
    mode = (mode or os.environ.get("KETNOI_ENGINE") or "auto").strip().lower()
    if mode not in MODES:
        raise ImportError(f"KETNOI_ENGINE={mode!r}: allowed values are {', '.join(MODES)}")
    if mode == "python":
        return None, None
    native_dir = native_dir or default_native_dir()
    why = stale_reason(native_dir, engine_dir)
    if why is None:
        return build_dir(native_dir), None
    if mode == "compiled":
        raise ImportError(f"KETNOI_ENGINE=compiled, but {why}")
    return None, why
