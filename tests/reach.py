"""Which test modules can reach a module of the project through their imports (read from the
source, nothing imported): the unit tests run a second time on the matching engine's source
(``make test``) need be only those that can reach the engine; the rest would run the same code
twice."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def reaches(path: Path, target: str, root: Path = ROOT) -> bool:
    """True if ``path`` imports ``target`` (or a module in it), directly or through modules
    of the project it imports, their packages' ``__init__`` included."""
    seen: set[Path] = set()
    todo = [path.resolve()]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in _imports(current, root):
            if name == target or name.startswith(target + "."):
                return True
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                found = _source(".".join(parts[:end]), root)
                if found is not None and found not in seen:
                    todo.append(found)
    return False


@cache
def _source(module: str, root: Path) -> Path | None:
    """The project's file of ``module``, or None (a third-party or missing module)."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


MARKER = re.compile(r"^# reaches: ([\w.]+)", re.MULTILINE)
"""A module that imports another only where the source cannot show it (in a subprocess's code,
through importlib) says so in a comment: ``# reaches: services.matcher.engine``."""


@cache
def _imports(path: Path, root: Path) -> frozenset[str]:
    """Every module name ``path`` imports, relative imports made absolute (for ``from m
    import x`` both ``m`` and ``m.x``: x may be a submodule), and those its ``# reaches:``
    comments name."""
    package = list(path.relative_to(root).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package[:-1]
    else:
        package = package[:-1] if package[-1] == "__init__" else package
    text = path.read_text(encoding="utf-8")
    names: set[str] = set(MARKER.findall(text))
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)
