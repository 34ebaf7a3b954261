"""The second unit run (on the engine's source) selects by imports: a test module that reaches
the engine only through another module must be selected, one that never does must not."""

from __future__ import annotations

from pathlib import Path

from tests.reach import ROOT, reaches

ENGINE = "services.matcher.engine"


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_module_reaching_the_target_through_others_is_selected(tmp_path: Path):
    _tree(tmp_path, {
        "app/__init__.py": "", "app/engine/__init__.py": "", "app/engine/core.py": "",
        "app/mid.py": "from .engine import core\n",  # relative, one level
        "app/deep/__init__.py": "from ..mid import thing\n",  # relative, two levels
        "tests/test_through_a_package.py": "import app.deep\n",
        "tests/test_direct.py": "from app.engine.core import x\n",
        "tests/test_elsewhere.py": "import json\nfrom app import other\n",
        "tests/test_in_a_subprocess.py": "# reaches: app.engine (in a child's code)\n",
    })  # fmt: skip
    names = ("test_through_a_package.py", "test_direct.py", "test_in_a_subprocess.py",
             "test_elsewhere.py")  # fmt: skip
    selected = [reaches(tmp_path / "tests" / name, "app.engine", tmp_path) for name in names]
    assert selected == [True, True, True, False]


def test_the_projects_engine_tests_are_selected_and_the_gateways_are_not():
    unit = ROOT / "tests" / "unit"
    assert reaches(unit / "test_engine_allocation.py", ENGINE)
    assert reaches(unit / "test_durable_books.py", ENGINE)  # through services.matcher.durable
    assert reaches(unit / "test_engine_purity.py", ENGINE)  # imports it in a subprocess
    assert not reaches(unit / "test_gateway_fairness.py", ENGINE)
