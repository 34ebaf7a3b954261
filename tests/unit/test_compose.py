"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked: it
parses, uses the real images, and every service runs a command the project really has."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from ketnoi.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _subcommands() -> set[str]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_compose_uses_real_kafka_kraft_and_mongodb_7_with_volumes_and_healthchecks():
    services = _compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:3.9")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["mongo"]["image"] == "mongo:7"
    volumes = set(_compose()["volumes"])
    for name, mount in [("kafka", "/var/lib/kafka/data"), ("mongo", "/data/db")]:
        [volume] = services[name]["volumes"]
        assert volume.split(":")[0] in volumes and volume.endswith(mount)
        assert services[name]["healthcheck"]["test"]
    assert services["gateway"]["healthcheck"]["test"]


def test_every_service_command_is_a_real_ketnoi_subcommand():
    services = _compose()["services"]
    ours = {name: s for name, s in services.items() if s.get("image") == "ketnoi:local"}
    assert {"gateway", "matcher", "recorder", "topics"} <= set(ours)
    for name, service in ours.items():
        command = service["command"]
        assert command[0] == "ketnoi", name
        build_parser().parse_args(command[1:])  # exits (fails the test) if unknown
        assert command[1] in _subcommands()
        env = service["environment"]
        assert env["KETNOI_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["KETNOI_MONGO_URL"] == "mongodb://mongo:27017"


def test_dockerfile_installs_the_package_with_its_entrypoint():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and 'ENTRYPOINT ["ketnoi"]' in dockerfile
