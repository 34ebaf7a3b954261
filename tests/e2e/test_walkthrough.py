"""The README's organizer walkthrough, run as it is written: from an empty session to a report
whose figures say what happened (one confirmed match, one meeting, one agreed contract)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from python_calamine import CalamineWorkbook

from ketnoi.runner import ServiceGroup, settings_env
from ketnoi.settings import PROJECT_ROOT

pytestmark = pytest.mark.infra

SECTION = "## Run a trade-connection session (organizer walkthrough)"


def _walkthrough() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def test_the_readme_walkthrough_runs_from_an_empty_session_to_a_report(services: ServiceGroup,
                                                                       tmp_path):  # fmt: skip
    script = tmp_path / "walkthrough.sh"
    script.write_text(_walkthrough(), encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, **settings_env(services.settings),
           "GW": services.settings.gateway_url, "OUT": str(out)}  # fmt: skip
    run = subprocess.run(["bash", "-euo", "pipefail", str(script)], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"

    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["status"] == "closed"
    assert stats["confirmed_kg"] == 5000 and stats["value_vnd"] == 475_000_000, stats

    # The report's headline, as the CLI printed it, and its workbook: one sheet per table.
    assert "Hợp đồng hai bên xác nhận" in run.stdout, run.stdout
    book = CalamineWorkbook.from_path(str(out / "report.xlsx"))
    assert len(book.sheet_names) > 3, book.sheet_names
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Hội nghị kết nối cung cầu Hải Phòng – Quảng Ngãi" in page
    agenda = (out / "agenda.html").read_text(encoding="utf-8")
    assert "HTX Cà phê Đăk Hà" in agenda and "09:00" in agenda
