"""Build the local store: FerretDB v1 (SQLite backend) with its ``_id`` lookups indexed.

Upstream FerretDB v1.24 looks up ``_id`` through the SQLite expression ``->'$._id'`` while its
unique ``_id`` index is on ``->"_id"``, so SQLite never uses the index: every find, update and
delete of one document scans the whole collection (0.2 s at 50,000 documents, measured), and a
filter beside ``_id`` (``{_id, state}``) or an ``$in`` of ids is filtered in Go after reading
every document (2-13 s). Real MongoDB answers all of these from its ``_id`` index. This build
changes the expression to the index's own and pushes ``_id`` equality and ``$in`` down beside
other conditions; FerretDB's handlers filter the fetched documents by the whole filter again,
so what a query answers is unchanged, only how much it reads.

The patch is applied to a copy of the module as Go downloaded it (nothing is vendored), built
with a go.mod that replaces the module by the copy. Each replacement must find its original
text exactly once, so a new FerretDB version fails here, loudly, instead of building
unpatched. Standard library only: it runs before the virtualenv exists (``ketnoi/prepare.py``
starts it by its path, in ``infra/ferretdb``).

    python ketnoi/store_build.py --go GO --version v1.24.2 --out BINARY -- build [flags...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

MODULE = "github.com/FerretDB/FerretDB"
PATCH_DIR = Path(__file__).resolve().parent.parent / "infra" / "ferretdb" / "patch"
_UPSTREAM_ID_WHERE = """\
	if params.Filter.Len() == 1 {
		v, _ := params.Filter.Get("_id")
		switch v.(type) {
		case string, types.ObjectID:
			whereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
			args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	}
"""
_UPSTREAM_EXPLAIN_WHERE = """\
	if params.Filter.Len() == 1 {
		v, _ := params.Filter.Get("_id")
		switch v.(type) {
		case string, types.ObjectID:
			filterPushdown = true
			whereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
			args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	}
"""
REPLACEMENTS: list[tuple[str, str, str]] = [
    (
        "internal/backends/sqlite/metadata/metadata.go",
        """IDColumn = DefaultColumn + "->'$._id'\"""",
        """IDColumn = DefaultColumn + "->'_id'\"  // ketnoi: the _id index's own expression""",
    ),
    (
        "internal/backends/sqlite/collection.go",
        _UPSTREAM_ID_WHERE,
        "\twhereClause, args = ketnoiIDWhere(params.Filter) // ketnoi: see id_pushdown.go\n",
    ),
    (
        "internal/backends/sqlite/collection.go",
        _UPSTREAM_EXPLAIN_WHERE,
        "\twhereClause, args = ketnoiIDWhere(params.Filter) // ketnoi: see id_pushdown.go\n"
        '\tfilterPushdown = whereClause != ""\n',
    ),
]
NEW_FILES = {"internal/backends/sqlite/ketnoi_id_pushdown.go": PATCH_DIR / "id_pushdown.go.in"}


def digest_inputs() -> list[bytes]:
    """What the patch is made of, for the cached binary's name (``prepare.store_digest``)."""
    parts = [repr(REPLACEMENTS).encode()]
    parts += [name.encode() + b"\0" + path.read_bytes() for name, path in NEW_FILES.items()]
    return parts


def module_dir(go: str, version: str, cwd: Path) -> Path:
    """The module's source as Go downloaded it (downloading it when missing)."""
    print(f"go mod download {MODULE}@{version} ...", flush=True)
    ran = subprocess.run([go, "mod", "download", "-json", f"{MODULE}@{version}"], cwd=cwd,
                         capture_output=True, text=True, check=False)  # fmt: skip
    if ran.returncode != 0:
        raise SystemExit(f"go mod download failed:\n{ran.stdout}{ran.stderr}")
    return Path(json.loads(ran.stdout)["Dir"])


def patched_copy(source: Path, work: Path) -> Path:
    """A copy of the module with the patch applied, and the go.mod (passed as ``-modfile``)
    that replaces the module by it; SystemExit when an original text is not found exactly
    once. (An overlay cannot do this: Go refuses to overlay files of the module cache.)"""
    shutil.rmtree(work, ignore_errors=True)
    tree = work / "ferretdb"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("*_test.go", "testdata"),
                    copy_function=shutil.copyfile)  # fmt: skip
    for name, old, new in REPLACEMENTS:
        path = tree / name
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise SystemExit(f"the store patch does not apply to {name} (found {text.count(old)} "
                             "times): FerretDB changed; update ketnoi/store_build.py")  # fmt: skip
        path.write_text(text.replace(old, new), encoding="utf-8")
    for name, patch in NEW_FILES.items():
        shutil.copyfile(patch, tree / name)
    modfile = work / "go.mod"
    own = Path.cwd()
    modfile.write_text((own / "go.mod").read_text(encoding="utf-8")
                       + f"\nreplace {MODULE} => {tree}\n", encoding="utf-8")  # fmt: skip
    shutil.copyfile(own / "go.sum", work / "go.sum")
    return modfile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the binary to write")
    parser.add_argument("--go", default="go")
    parser.add_argument("--version", required=True, help="FerretDB's version, e.g. v1.24.2")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="go build flags")
    args = parser.parse_args(argv)
    cwd = Path.cwd()
    source = module_dir(args.go, args.version, cwd)
    modfile = patched_copy(source, args.out.parent / f"{args.out.name}.src")
    print(f"patched: {', '.join(sorted({n for n, _, _ in REPLACEMENTS} | set(NEW_FILES)))}",
          flush=True)  # fmt: skip
    flags = [f for f in args.flags if f != "--"]
    command = [args.go, *flags, f"-modfile={modfile}", "-o", str(args.out), "."]
    print(" ".join(command), flush=True)
    return subprocess.run(command, cwd=cwd, env=os.environ.copy(), check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
