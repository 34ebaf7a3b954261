"""The argv a container runs, computed as Docker computes it, for tests without a Docker engine.

Two rules decide it, and both are easy to get wrong by reading the files alone:

- **Building** (BuildKit's ``dispatchEntrypoint``/``dispatchCmd``): exec form (a JSON array) is
  used as written; shell form becomes ``SHELL + [the line]`` (``/bin/sh -c`` unless a ``SHELL``
  instruction changed it). ``ENTRYPOINT`` clears the ``CMD`` the stage inherited (from its base
  image or an earlier stage) unless a ``CMD`` came earlier in the same stage.
- **Creating the container** (the daemon's ``merge`` in ``daemon/commit.go``, fed by compose):
  a service's ``entrypoint`` replaces the image's ``ENTRYPOINT`` *and drops the image's*
  ``CMD``; its ``command`` replaces ``CMD``. An empty ``entrypoint`` (``[]`` or ``''``) means
  none, with the image's ``CMD`` kept when no ``command`` is given. The process runs
  ``entrypoint + cmd``. Compose splits a string ``command``/``entrypoint`` like a shell would
  (without running a shell), and ``docker compose run SERVICE ARGS...`` makes ARGS the
  ``command``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

DEFAULT_SHELL = ["/bin/sh", "-c"]


class Unknown:
    """A value inherited from an external base image, which only a registry could tell."""

    def __repr__(self) -> str:
        return "<set by the base image>"


UNKNOWN = Unknown()
Argv = list[str] | None | Unknown  # None: not set


@dataclass
class ImageConfig:
    entrypoint: Argv
    cmd: Argv


def _logical_lines(text: str) -> list[str]:
    """Instructions one per line: comments dropped, backslash continuations joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append((current + stripped).strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _exec_form(value: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None when it is shell form."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return parsed
    return None


def image_config(dockerfile: str, target: str | None = None) -> ImageConfig:
    """ENTRYPOINT and CMD of the built image (the last stage, or ``target``)."""
    stages: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    order: list[str] = []
    for line in _logical_lines(dockerfile):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            base = words[0]
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            name = name or f"#{len(order)}"
            stages[name] = (base.lower(), [])
            order.append(name)
        elif keyword in {"ENTRYPOINT", "CMD", "SHELL"}:
            if not order:
                raise ValueError(f"{keyword} before any FROM")
            stages[order[-1]][1].append((keyword, rest))
    if not order:
        raise ValueError("no FROM instruction")
    name = target.lower() if target else order[-1]

    def build(stage: str, seen: frozenset[str]) -> tuple[ImageConfig, list[str]]:
        if stage in seen:
            raise ValueError(f"stage {stage!r} is its own base")
        base, instructions = stages[stage]
        if base in stages:
            config, shell = build(base, seen | {stage})
            config = ImageConfig(config.entrypoint, config.cmd)
        else:
            config, shell = ImageConfig(UNKNOWN, UNKNOWN), list(DEFAULT_SHELL)
        cmd_set = False
        for keyword, rest in instructions:
            exec_form = _exec_form(rest)
            if keyword == "SHELL":
                if exec_form is None:
                    raise ValueError("SHELL takes the JSON (exec) form only")
                shell = exec_form
                continue
            args = exec_form if exec_form is not None else [*shell, rest]
            if keyword == "CMD":
                config.cmd, cmd_set = args, True
            else:
                config.entrypoint = args
                if not cmd_set:
                    config.cmd = None
        return config, shell

    return build(name, frozenset())[0]


def compose_words(value: object) -> list[str] | None:
    """A compose ``command``/``entrypoint``: a list as is, a string split like a shell would."""
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return [str(item) for item in value]
    raise ValueError(f"not a command: {value!r}")


def container_argv(image: ImageConfig, service: dict) -> list[str]:
    """What the container's process runs: the daemon's merge of the service onto the image."""
    entrypoint = compose_words(service.get("entrypoint"))
    cmd = compose_words(service.get("command"))
    if not entrypoint:  # None (not set) or empty: the image's CMD stays unless replaced
        if not cmd:
            cmd = image.cmd  # type: ignore[assignment]
        if entrypoint is None:
            entrypoint = image.entrypoint  # type: ignore[assignment]
    parts: list[str] = []
    for part in (entrypoint, cmd):
        if isinstance(part, Unknown):
            raise ValueError(
                "the argv depends on the base image's ENTRYPOINT or CMD; set both in the "
                "Dockerfile (or the service) so the container's command is known"
            )
        parts += part or []
    if not parts:
        raise ValueError("the container has no command at all")
    return parts


def program(argv: list[str]) -> list[str]:
    """The words a shell-form argv (``sh -c 'line' $0 $1 ...``) really runs: the line alone."""
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1] in {"sh", "bash"} and argv[1] == "-c":
        return shlex.split(argv[2])
    return argv


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_]\w*)")


def interpolate(value: str, environment: dict[str, str] | None = None) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``$$``, from ``environment`` (else the
    defaults), so a test reads the values a plain ``docker compose up`` would use."""
    environment = environment or {}

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(3)
        default = match.group(2)
        if name in environment and (environment[name] or default is None):
            return environment[name]
        if default is None:
            raise ValueError(f"${{{name}}} has no default and is not set")
        return default

    return _VARIABLE.sub(replace, value)
