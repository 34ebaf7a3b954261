"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked: it
parses, is valid against the Compose Specification's JSON Schema (the one `docker compose`
validates with), uses the real images, and every container of ours runs a command the CLI
accepts.

The argv is rendered as Docker renders it (tests/unit/docker_argv.py: the Dockerfile's
ENTRYPOINT and CMD, then compose's ``entrypoint`` and ``command``) and parsed by the real
``ketnoi`` argument parser, without running anything. Checking ``command`` alone missed that
``ENTRYPOINT ["ketnoi"]`` plus ``command: ["ketnoi", "topics"]`` runs ``ketnoi ketnoi topics``
(issue 13): nothing started.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

from ketnoi.cli import build_parser
from tests.unit import docker_argv
from tests.unit.docker_argv import ImageConfig

ROOT = Path(__file__).resolve().parents[2]
OUR_IMAGE = "ketnoi:local"
SUBCOMMAND_OF = {"topics": "topics", "gateway": "gateway", "matcher": "matcher",
                 "recorder": "recorder"}  # fmt: skip
"""The subcommand each of our compose services must run; a new service must be added here."""


def _compose(text: str | None = None) -> dict:
    return yaml.safe_load(text if text is not None else (ROOT / "docker-compose.yml").read_text())


def _image() -> ImageConfig:
    return docker_argv.image_config((ROOT / "Dockerfile").read_text())


def _ours(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == OUR_IMAGE}


def parse_ketnoi(argv: list[str]) -> argparse.Namespace | None:
    """Parse a container's argv with the real CLI parser; fail with argparse's own message.
    None: the argv asks for the help (argparse prints it and exits 0)."""
    words = docker_argv.program(argv)
    if words[:1] and Path(words[0]).name == "ketnoi":
        args = words[1:]
    elif (
        words[:1]
        and Path(words[0]).name.startswith("python")
        and words[1:3] == ["-m", "ketnoi.cli"]
    ):
        args = words[3:]
    else:
        raise AssertionError(f"{shlex.join(argv)!r} does not run the ketnoi command line")
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            return build_parser().parse_args(args)
    except SystemExit as exc:
        if exc.code == 0:
            return None
        raise AssertionError(
            f"`{shlex.join(argv)}` is refused by the CLI (exit {exc.code}): "
            f"{stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue() else ''}"
        ) from None


def effective_commands(compose: dict, image: ImageConfig) -> dict[str, argparse.Namespace]:
    """Each of our services' container argv, parsed by the CLI (AssertionError when refused)."""
    commands = {}
    for name, service in _ours(compose).items():
        argv = docker_argv.container_argv(image, service)
        args = parse_ketnoi(argv)
        assert args is not None, f"{name} runs `{shlex.join(argv)}`, which only prints the help"
        commands[name] = args
    return commands


# -- the stack starts ----------------------------------------------------------------------


def test_every_container_of_ours_runs_the_subcommand_of_its_service():
    compose = _compose()
    assert set(_ours(compose)) == set(SUBCOMMAND_OF), "a service of ours is not checked here"
    for name, args in effective_commands(compose, _image()).items():
        assert args.command == SUBCOMMAND_OF[name], name


def test_the_check_catches_the_entrypoint_doubled_by_the_command():
    """The compose file of issue 13: it must fail here, and with argparse's reason."""
    before = """
services:
  topics: {image: ketnoi:local, command: ["ketnoi", "topics"]}
"""
    with pytest.raises(AssertionError, match=r"ketnoi ketnoi topics.*invalid choice: 'ketnoi'"):
        effective_commands(_compose(before), _image())


def test_dockerfile_installs_the_package_with_an_exec_form_entrypoint():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile
    image = _image()
    # Exec form: the service is PID 1's child with no shell between (signals reach it), and a
    # compose `command` is appended to it (a shell-form ENTRYPOINT would ignore the command).
    assert image.entrypoint == ["ketnoi"]
    # `docker run ketnoi:local` shows the help
    assert parse_ketnoi(docker_argv.container_argv(image, {})) is None


def test_readme_docker_commands_are_accepted_by_the_cli():
    """`docker compose run --rm -T gateway keys create ...` in the README must parse too."""
    compose, image = _compose(), _image()
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    runs = [r for r in re.findall(r"docker compose run ([^`\n|)$]+)", text) if "..." not in r]
    assert any("keys create" in run for run in runs), "the README shows no key creation"
    for run in runs:
        words = shlex.split(run)
        while words and words[0].startswith("-"):  # --rm, -T, -e X=Y ...
            words = words[2:] if words[0] in {"-e", "--env"} else words[1:]
        service, args = words[0], words[1:]
        argv = docker_argv.container_argv(image, {**_ours(compose)[service], "command": args})
        parse_ketnoi(argv)


# -- the rules the check relies on ---------------------------------------------------------


def test_argv_follows_dockers_rules_for_entrypoint_and_cmd():
    image = ImageConfig(["ketnoi"], ["--help"])
    argv = docker_argv.container_argv
    assert argv(image, {}) == ["ketnoi", "--help"]
    assert argv(image, {"command": ["topics"]}) == ["ketnoi", "topics"]
    assert argv(image, {"command": "keys create --org 'a b'"}) == [
        "ketnoi", "keys", "create", "--org", "a b"]  # fmt: skip
    # compose's entrypoint replaces ENTRYPOINT and drops the image's CMD
    assert argv(image, {"entrypoint": ["python", "-m", "ketnoi.cli"]}) == [
        "python", "-m", "ketnoi.cli"]  # fmt: skip
    assert argv(image, {"entrypoint": "python -m ketnoi.cli", "command": ["matcher"]}) == [
        "python", "-m", "ketnoi.cli", "matcher"]  # fmt: skip
    # an empty entrypoint removes it; the image's CMD stays unless a command replaces it
    assert argv(image, {"entrypoint": []}) == ["--help"]
    assert argv(image, {"entrypoint": "", "command": ["ketnoi", "gateway"]}) == [
        "ketnoi", "gateway"]  # fmt: skip


def test_image_config_follows_the_builders_rules():
    config = docker_argv.image_config
    assert config('FROM python:3.11\nENTRYPOINT ["ketnoi"]\nCMD ["--help"]\n') == ImageConfig(
        ["ketnoi"], ["--help"])  # fmt: skip
    # ENTRYPOINT drops the CMD inherited from the base (python's ["python3"]) ...
    assert config('FROM python:3.11\nENTRYPOINT ["ketnoi"]\n') == ImageConfig(["ketnoi"], None)
    # ... not one set before it in the same stage; later stages inherit from earlier ones
    stages = 'FROM python:3.11 AS base\nCMD ["x"]\nENTRYPOINT ["e"]\nFROM base\nCMD ["y"]\n'
    assert config(stages) == ImageConfig(["e"], ["y"])
    assert config(stages, target="base") == ImageConfig(["e"], ["x"])
    # shell form runs through the shell, with continuation lines joined
    shell = config("FROM python:3.11\nENTRYPOINT ketnoi \\\n  gateway\n")
    assert shell.entrypoint[:2] == ["/bin/sh", "-c"] and shell.cmd is None
    assert shlex.split(shell.entrypoint[2]) == ["ketnoi", "gateway"]
    # sh -c runs the line alone: a command after it would only set $0
    assert docker_argv.program(docker_argv.container_argv(shell, {"command": ["x"]})) == [
        "ketnoi", "gateway"]  # fmt: skip
    assert config('FROM python:3.11\nSHELL ["/bin/bash", "-c"]\nCMD ketnoi topics\n').cmd == [
        "/bin/bash", "-c", "ketnoi topics"]  # fmt: skip
    # what the base image sets is unknown here: refuse to guess
    with pytest.raises(ValueError, match="base image"):
        docker_argv.container_argv(config("FROM python:3.11\n"), {})


def test_a_shell_form_entrypoint_would_ignore_the_command():
    image = docker_argv.image_config("FROM python:3.11\nENTRYPOINT ketnoi\n")
    with pytest.raises(AssertionError, match="required"):
        parse_ketnoi(docker_argv.container_argv(image, {"command": ["topics"]}))


# -- images, scale-out, host ports -----------------------------------------------------------


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
    for service in _ours(_compose()).values():
        env = service["environment"]
        assert env["KETNOI_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["KETNOI_MONGO_URL"] == "mongodb://mongo:27017"


def test_workers_scale_out_with_no_fixed_name_or_port():
    """`docker compose up --scale matcher=3` refuses a container_name or a fixed host port."""
    services = _compose()["services"]
    for name in ("matcher", "recorder"):
        assert "container_name" not in services[name], name
        assert not services[name].get("ports"), name
    assert services["matcher"].get("restart") == "unless-stopped"  # fail-stop, then redelivery


def test_host_ports_are_optional_loopback_only_and_reach_kafka_and_mongo():
    services = _compose()["services"]
    unprofiled = [n for n, s in services.items() if not s.get("profiles")]
    assert not any(
        s.get("ports") for n, s in services.items() if n in unprofiled and n != "gateway"
    ), "only the gateway publishes a port without a profile"
    proxies = {n: s for n, s in services.items() if "host-ports" in s.get("profiles", [])}
    targets: dict[str, tuple[int, int]] = {}
    for service in proxies.values():
        [port] = [docker_argv.interpolate(p) for p in service["ports"]]
        host_ip, host_port, container_port = port.split(":")
        assert host_ip == "127.0.0.1", "Kafka and MongoDB here have no password: loopback only"
        listen, connect = service["command"]
        assert listen.startswith(f"tcp-listen:{container_port},fork")
        target, target_port = connect.removeprefix("tcp-connect:").rsplit(":", 1)
        targets[target] = (int(host_port), int(target_port))
    assert set(targets) == {"kafka", "mongo"}
    assert targets["mongo"][1] == 27017
    # Kafka answers with its advertised address: the HOST listener must advertise the host port
    # the proxy publishes, on the container port the proxy forwards to.
    env = {k: docker_argv.interpolate(str(v)) for k, v in services["kafka"]["environment"].items()}
    advertised = dict(a.split("://") for a in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    listeners = dict(a.split("://") for a in env["KAFKA_LISTENERS"].split(","))
    assert advertised["HOST"] == f"127.0.0.1:{targets['kafka'][0]}"
    assert listeners["HOST"] == f":{targets['kafka'][1]}"
    assert "HOST:PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    # Not the local infrastructure's ports: both may run on one machine.
    assert {targets["kafka"][0], targets["mongo"][0]}.isdisjoint({9092, 27017})


COMPOSE_SPEC = Path(__file__).with_name("compose-spec.json")
"""The Compose Specification's JSON Schema, as `docker compose` validates a file against it
before loading it: github.com/compose-spec/compose-go/v2@v2.16.2/schema/compose-spec.json
(Apache-2.0), taken whole from the Go module proxy; SHA-256 f266dcbb...a43ff."""


def _spec_errors(compose: dict) -> list[str]:
    schema = json.loads(COMPOSE_SPEC.read_text(encoding="utf-8"))
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator.iter_errors(compose)]  # fmt: skip


def test_the_compose_file_is_valid_against_the_compose_specification():
    assert _spec_errors(_compose()) == []


def test_the_specification_check_catches_a_misspelled_or_mistyped_key():
    compose = _compose()
    service = next(iter(compose["services"].values()))
    service["comand"] = ["ketnoi", "matcher"]  # compose would refuse the file
    service["restart"] = True
    errors = _spec_errors(compose)
    assert any("'comand' was unexpected" in e for e in errors), errors
    assert any(e.endswith("True is not of type 'string'") for e in errors), errors
