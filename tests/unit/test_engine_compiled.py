"""The compiled engine (mypyc) decides exactly as its Python source, and is used only when it
was built from the very files beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.matcher.engine import compiled

ROOT = Path(__file__).resolve().parents[2]


def _run(mode: str) -> tuple[str, str]:
    env = {**os.environ, "KETNOI_ENGINE": mode}
    out = subprocess.run(
        [sys.executable, "-m", "tests.unit.engine_digest"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    implementation, _, digest = out.stdout.strip().partition(" ")
    return implementation, digest


def test_the_compiled_engine_decides_and_stores_exactly_what_the_source_does():
    """`make test` builds the engine first; KETNOI_ENGINE=compiled refuses to fall back."""
    python, compiled_run = _run("python"), _run("compiled")
    assert python[0] == "python" and compiled_run[0] == "compiled"
    kinds = ("Proposed", "Confirmed", "Expired", "Released", "DemandFilled", "Unmatched",
             "round:Proposed")  # fmt: skip
    for kind in kinds:
        assert f'"{kind}"' in python[1]  # every path of the engine took part, rounds too
    assert compiled_run[1] == python[1]


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A project laid out as ours: services/matcher/engine beside schemas."""
    engine_dir = tmp_path / "project" / "services" / "matcher" / "engine"
    engine_dir.mkdir(parents=True)
    (engine_dir / "__init__.py").write_text("")
    (engine_dir / "book.py").write_text("X = 1\n")
    (tmp_path / "project" / "schemas" / "reference").mkdir(parents=True)
    (tmp_path / "project" / "schemas" / "__init__.py").write_text("")
    (tmp_path / "project" / "schemas" / "reference" / "units.py").write_text("KG = 1\n")
    return engine_dir


def _build(native_dir: Path, engine_dir: Path, **manifest: str) -> Path:
    """What ``ketnoi engine build`` leaves: a module per source, the library, the manifest."""
    folder = compiled.build_dir(native_dir)
    folder.mkdir(parents=True)
    fingerprint = compiled.fingerprint(engine_dir) | manifest
    suffix = fingerprint["ext_suffix"]
    for name in [p.stem for p in compiled.compiled_sources(engine_dir)] + [compiled.LIBRARY]:
        (folder / f"{name}{suffix}").write_bytes(b"")
    (folder / compiled.MANIFEST).write_text(json.dumps(fingerprint))
    return folder


def test_a_build_of_the_same_sources_is_chosen(tmp_path, sources):
    folder = _build(tmp_path / "native", sources)
    assert compiled.choose("auto", tmp_path / "native", sources) == (folder, None)
    assert compiled.choose("compiled", tmp_path / "native", sources) == (folder, None)
    assert compiled.choose("python", tmp_path / "native", sources) == (None, None)


def test_a_build_of_other_sources_is_never_used(tmp_path, sources):
    _build(tmp_path / "native", sources)
    (sources / "book.py").write_text("X = 2\n")  # edited after the build
    chosen, why = compiled.choose("auto", tmp_path / "native", sources)
    assert chosen is None and "made from other sources (book.py)" in why
    with pytest.raises(ImportError, match=r"made from other sources \(book.py\)"):
        compiled.choose("compiled", tmp_path / "native", sources)


def test_a_build_against_other_schemas_is_never_used(tmp_path, sources):
    """The build was type-checked against schemas, and compiled code checks those types."""
    _build(tmp_path / "native", sources)
    (sources.parents[2] / "schemas" / "reference" / "units.py").write_text("KG = 1.0\n")
    with pytest.raises(ImportError, match=r"other sources \(schemas/reference/units.py\)"):
        compiled.choose("compiled", tmp_path / "native", sources)


def test_a_build_for_another_interpreter_is_never_used(tmp_path, sources):
    _build(tmp_path / "native", sources, ext_suffix=".cpython-312-x86_64-linux-gnu.so")
    with pytest.raises(ImportError, match=r"other sources \(ext_suffix\)"):
        compiled.choose("compiled", tmp_path / "native", sources)


def test_a_build_missing_a_module_is_never_used(tmp_path, sources):
    """A module left out would run from source beside compiled ones, unnoticed."""
    folder = _build(tmp_path / "native", sources)
    next(folder.glob("book*")).unlink()
    with pytest.raises(ImportError, match=r"lacks book\."):
        compiled.choose("compiled", tmp_path / "native", sources)


def test_a_missing_build_falls_back_or_is_named(tmp_path, sources):
    chosen, why = compiled.choose("auto", tmp_path / "nothing", sources)
    assert chosen is None and why.startswith("no compiled build at")
    with pytest.raises(ImportError, match=r"no compiled build at .*ketnoi engine build"):
        compiled.choose("compiled", tmp_path / "nothing", sources)


def test_an_unknown_mode_names_the_allowed_ones(tmp_path, sources):
    with pytest.raises(ImportError, match="allowed values are auto, compiled, python"):
        compiled.choose("fast", tmp_path, sources)


def test_the_entry_and_the_loader_stay_python():
    names = [p.name for p in compiled.compiled_sources()]
    assert "book.py" in names and "allocation.py" in names
    assert "__init__.py" not in names and "compiled.py" not in names
