"""Setup progress on the real terminal during a pytest run.

pytest captures what a test (and its fixtures) print, so the ``infra`` fixture's "starting
Kafka ... 4.2 s" would be hidden while one test name sits on the screen for minutes. This
plugin sends ``ketnoi.progress`` lines through pytest's terminal reporter with capture
suspended, the way ``capsys.disabled()`` does. Loaded by ``tests/conftest.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from ketnoi import progress

_previous = pytest.StashKey[Callable[[str], None]]()


def terminal_writer(config: pytest.Config) -> Callable[[str], None]:
    """A progress writer that reaches the terminal whatever pytest is capturing."""

    def write(line: str) -> None:
        # Looked up at each line: the reporter registers after conftest's pytest_configure.
        capman = config.pluginmanager.getplugin("capturemanager")
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if capman is None or reporter is None:  # -p no:terminal: the error stream at least
            stream = sys.__stderr__ or sys.stderr
            stream.write(line + "\n")
            stream.flush()
            return
        with capman.global_and_fixture_disabled():
            reporter.ensure_newline()  # after "tests/x.py " in the default mode
            if getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0):
                reporter.write("\n")  # after the progress dots of -q
            reporter.write_line(line)
            reporter.flush()

    return write


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_previous] = progress.set_writer(terminal_writer(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    progress.set_writer(config.stash.get(_previous, None))
