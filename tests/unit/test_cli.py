from __future__ import annotations

import subprocess
import sys


def test_help_lists_every_subcommand():
    result = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in [
        "infra",
        "topics",
        "gateway",
        "matcher",
        "recorder",
        "demo",
        "schemas",
        "simulate",
    ]:
        assert command in result.stdout


def test_unknown_infra_action_is_refused_with_the_choices():
    result = subprocess.run(
        [sys.executable, "-m", "ketnoi.cli", "infra", "restart"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "choose from" in result.stderr and "up" in result.stderr


def test_settings_copies_name_their_own_topics():
    from ketnoi.settings import Settings

    base = Settings(topic_prefix="a.")
    assert base.topics.orders == "a.orders"
    assert base.model_copy(update={"topic_prefix": "b."}).topics.orders == "b.orders"
