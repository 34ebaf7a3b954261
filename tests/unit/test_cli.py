from __future__ import annotations

import subprocess
import sys


def test_help_lists_every_subcommand():
    result = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ["infra", "topics", "gateway", "matcher", "recorder", "demo", "schemas"]:
        assert command in result.stdout


def test_unknown_infra_action_is_refused_with_the_choices():
    result = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "infra", "restart"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "choose from" in result.stderr and "up" in result.stderr
