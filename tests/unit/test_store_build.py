"""The store's build: the patch that indexes ``_id`` lookups applies to the pinned FerretDB
exactly, refuses a changed one, and a store started from another build is told apart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ketnoi import prepare, store_build
from ketnoi.infra.store import LocalStore
from ketnoi.settings import Settings


def _fake_module(root: Path, *, collection_text: str | None = None) -> Path:
    """A module tree holding the patched files as upstream has them (one Query and one
    Explain pushdown block, the IDColumn line)."""
    sqlite = root / "internal" / "backends" / "sqlite"
    (sqlite / "metadata").mkdir(parents=True)
    (sqlite / "metadata" / "metadata.go").write_text(
        "package metadata\n\nconst (\n\tIDColumn = DefaultColumn + \"->'$._id'\"\n)\n"
    )
    text = collection_text
    if text is None:
        text = ("package sqlite\n" + store_build._UPSTREAM_ID_WHERE + "\n"
                + store_build._UPSTREAM_EXPLAIN_WHERE)  # fmt: skip
    (sqlite / "collection.go").write_text(text)
    (root / "keep_test.go").write_text("package x\n")
    return root


def test_the_patch_applies_once_each_and_the_copy_builds_against_it(tmp_path, monkeypatch):
    source = _fake_module(tmp_path / "module")
    own = tmp_path / "own"
    own.mkdir()
    (own / "go.mod").write_text("module example.com/own\n")
    (own / "go.sum").write_text("")
    monkeypatch.chdir(own)
    modfile = store_build.patched_copy(source, tmp_path / "work")
    tree = tmp_path / "work" / "ferretdb"
    collection = (tree / "internal/backends/sqlite/collection.go").read_text()
    assert collection.count("ketnoiIDWhere(params.Filter)") == 2
    assert "params.Filter.Len() == 1" not in collection
    assert "->'_id'" in (tree / "internal/backends/sqlite/metadata/metadata.go").read_text()
    assert (tree / "internal/backends/sqlite/ketnoi_id_pushdown.go").exists()
    assert not (tree / "keep_test.go").exists()  # tests are not copied
    assert f"replace {store_build.MODULE} => {tree}" in modfile.read_text()


def test_a_changed_ferretdb_fails_the_build_with_a_message(tmp_path, monkeypatch):
    source = _fake_module(tmp_path / "module", collection_text="package sqlite\n")
    own = tmp_path / "own"
    own.mkdir()
    (own / "go.mod").write_text("module example.com/own\n")
    (own / "go.sum").write_text("")
    monkeypatch.chdir(own)
    with pytest.raises(SystemExit, match="does not apply to internal/backends/sqlite/collection"):
        store_build.patched_copy(source, tmp_path / "work")


def test_the_patch_is_part_of_the_binarys_name(monkeypatch):
    before = prepare.store_digest()
    monkeypatch.setattr(store_build, "REPLACEMENTS", [*store_build.REPLACEMENTS, ("x", "y", "z")])
    assert prepare.store_digest() != before


def test_a_store_started_from_another_build_is_named(tmp_path):
    settings = Settings(home=tmp_path, cache_dir=tmp_path / "cache")
    store = LocalStore(settings)
    assert store.outdated() is None  # nothing runs
    store.process.run_dir.mkdir(parents=True)
    store.process.pid_file.write_text(str(os.getpid()))  # this Python, not the store's binary
    invoked = Path("/proc/self/cmdline").read_bytes().split(b"\0")[0].decode()
    assert store.outdated() == Path(invoked).name != store.binary.name
