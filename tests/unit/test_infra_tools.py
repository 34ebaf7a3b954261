"""A machine without Java, Maven or Go gets a message that says what to install."""

from __future__ import annotations

import pytest

from ketnoi.infra.kafka import LocalKafka
from ketnoi.infra.processes import InfraError
from ketnoi.infra.store import LocalStore
from ketnoi.settings import Settings


@pytest.fixture
def bare_machine(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    return Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")


def test_missing_maven_is_named_with_how_to_install(bare_machine):
    with pytest.raises(InfraError, match=r"mvn is needed .* Install Maven"):
        LocalKafka(bare_machine).ensure_jars()


def test_missing_go_is_named_with_how_to_install(bare_machine):
    with pytest.raises(InfraError, match=r"go is needed .* Install Go"):
        LocalStore(bare_machine).ensure_binary()
