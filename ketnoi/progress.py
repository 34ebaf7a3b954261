"""Progress of the setup stages on the terminal: a line when a stage starts, a heartbeat with
the tool's latest output while it runs, and a line with its elapsed time when it ends.

Why: a first run spends minutes in pip, Maven, the Go build of the store, mypyc and apt; with
nothing printed it looks hung. Plain lines, not rich or tqdm: this module runs before the
virtualenv exists (the Makefile calls it with the system Python, so it imports only the
standard library), and lines read the same in a terminal, a CI log and under pytest (whose
capture the tests route around with ``set_writer``).

As a command it wraps one tool, keeping the tool's own output in a log file::

    python -m ketnoi.progress "Python packages (pip)" .ketnoi/setup/pip.log -- pip install ...
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

Writer = Callable[[str], None]
HEARTBEAT_SECONDS = 15.0
"""How often a running stage says it is still running (with the tool's latest line)."""
PREFIX = "[ketnoi] "


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


_writer: Writer = _stderr


def set_writer(writer: Writer | None) -> Writer:
    """Send progress lines to ``writer`` (None: back to stderr); returns the previous one."""
    global _writer
    previous, _writer = _writer, writer or _stderr
    return previous


def emit(text: str) -> None:
    """One progress line, as the current writer shows it."""
    _writer(PREFIX + text)


def elapsed(seconds: float) -> str:
    """``4.2 s`` below a minute, ``2 min 44 s`` above: how long a stage took, for people."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class StageError(RuntimeError):
    """A wrapped tool failed; the message names the stage, its exit code and its log."""


class Stage:
    """One setup stage: announced, ticked while it runs, closed with its elapsed time."""

    def __init__(
        self,
        label: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.label = label
        self._clock = clock
        self._heartbeat = heartbeat
        self.started = self._last = clock()
        emit(f"{label} ...")

    @property
    def seconds(self) -> float:
        return self._clock() - self.started

    def tick(self, detail: str = "") -> None:
        """Say the stage still runs, at most once per heartbeat interval."""
        now = self._clock()
        if now - self._last < self._heartbeat:
            return
        self._last = now
        line = f"{self.label} ... {elapsed(now - self.started)}"
        emit(f"{line}: {_shorten(detail)}" if detail else line)

    def done(self, note: str = "") -> None:
        emit(f"{self.label}: {elapsed(self.seconds)}" + (f" ({note})" if note else ""))

    def failed(self, why: str = "failed") -> None:
        emit(f"{self.label}: {why} after {elapsed(self.seconds)}")


@contextmanager
def stage(label: str, *, clock: Callable[[], float] = time.monotonic) -> Iterator[Stage]:
    """``with stage("starting Kafka") as s: ...`` prints the start, then the elapsed time."""
    current = Stage(label, clock=clock)
    try:
        yield current
    except KeyboardInterrupt:
        current.failed("interrupted")
        raise
    except BaseException:
        current.failed()
        raise
    current.done()


def _shorten(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else "..." + text[-(width - 3) :]


def last_line(log: Path) -> str:
    """The latest non-empty line a tool wrote to its log: what it is doing now."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4096))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line for line in tail.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Job:
    """A tool run as one stage: its output goes to ``log``; ``then`` runs when it succeeded
    (e.g. verify checksums and move the result into place)."""

    label: str
    argv: Sequence[str]
    log: Path
    cwd: Path | None = None
    env: dict[str, str] | None = None
    then: Callable[[], None] | None = None
    note: str = ""
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _stage: Stage | None = field(default=None, repr=False)


def run_jobs(jobs: Sequence[Job], *, poll: float = 0.25) -> None:
    """Run independent tools at once, each shown as a stage; raise StageError for the first
    that fails once all have ended (so none is left half-written), and stop them all on
    Ctrl-C. The waiting happens in this thread, so progress lines never come from another."""
    errors: list[str] = []
    running: list[Job] = []
    try:
        for job in jobs:
            job.log.parent.mkdir(parents=True, exist_ok=True)
            job._stage = Stage(job.label)
            try:
                with open(job.log, "wb") as out:
                    job._proc = subprocess.Popen(
                        list(job.argv), cwd=job.cwd, env=_unbuffered(job.env),
                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    )  # fmt: skip
            except OSError:
                job._stage.failed("could not start")
                raise
            running.append(job)
        while running:
            first = running[0]
            assert first._proc is not None
            with suppress(subprocess.TimeoutExpired):
                first._proc.wait(timeout=poll)
            for job in list(running):
                assert job._proc is not None and job._stage is not None
                code = job._proc.poll()
                if code is None:
                    job._stage.tick(last_line(job.log))
                    continue
                running.remove(job)
                error = _finish(job, code)
                if error:
                    errors.append(error)
    except BaseException:
        for job in running:  # started and not yet reported: stop them, say so
            if job._proc is not None and job._proc.poll() is None:
                job._proc.terminate()
        for job in running:
            if job._proc is not None:
                try:
                    job._proc.wait(10)
                except subprocess.TimeoutExpired:
                    job._proc.kill()
            if job._stage is not None:
                job._stage.failed("interrupted")
        raise
    if errors:
        raise StageError("\n".join(errors))


def _unbuffered(env: dict[str, str] | None) -> dict[str, str]:
    """A Python tool writing to a file buffers its output: the heartbeat would show nothing."""
    return {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}


def _finish(job: Job, code: int) -> str:
    """Close a job's stage; a message (with the log's tail) when it failed."""
    assert job._stage is not None
    if code == 0 and job.then is not None:
        try:
            job.then()
        except Exception as exc:
            job._stage.failed()
            return f"{job.label}: {exc}"
    if code == 0:
        job._stage.done(job.note)
        return ""
    job._stage.failed(f"failed (exit {code})")
    return (
        f"{job.label} failed with exit code {code}; its output is in {job.log}:\n"
        f"{log_tail(job.log)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ketnoi.progress LABEL LOG -- COMMAND...``: the exit code is the command's."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args or args.index("--") != 2 or len(args) < 4:
        _stderr("usage: python -m ketnoi.progress LABEL LOG -- COMMAND [ARG...]")
        return 2
    label, log, command = args[0], Path(args[1]), args[3:]
    try:
        run_jobs([Job(label, command, log)])
    except StageError as exc:
        _stderr(f"error: {exc}")
        return 1
    except FileNotFoundError as exc:
        _stderr(f"error: {label}: {exc.filename} was not found on PATH")
        return 127
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
