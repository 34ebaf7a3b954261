"""Setup stages print what they do with their elapsed time, in a terminal and under pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from ketnoi import prepare, progress
from ketnoi.settings import PROJECT_ROOT


@pytest.fixture
def lines() -> Iterator[list[str]]:
    seen: list[str] = []
    previous = progress.set_writer(seen.append)
    try:
        yield seen
    finally:
        progress.set_writer(previous)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_elapsed_reads_as_seconds_then_minutes():
    assert progress.elapsed(4.23) == "4.2 s"
    assert progress.elapsed(164) == "2 min 44 s"


def test_a_stage_says_when_it_starts_ticks_once_per_heartbeat_and_ends_with_its_time(lines):
    clock = FakeClock()
    with progress.stage("starting Kafka", clock=clock) as current:
        clock.now += 5
        current.tick("not yet")  # within the heartbeat interval: silent
        clock.now += progress.HEARTBEAT_SECONDS
        current.tick("Downloading from central: scala-library-2.13.15.jar")
        clock.now += 1
    assert lines == [
        "[ketnoi] starting Kafka ...",
        "[ketnoi] starting Kafka ... 20.0 s: Downloading from central: scala-library-2.13.15.jar",
        "[ketnoi] starting Kafka: 21.0 s",
    ]


def test_a_failed_or_interrupted_stage_says_so(lines):
    clock = FakeClock()
    with pytest.raises(RuntimeError), progress.stage("store build", clock=clock):
        clock.now += 3
        raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt), progress.stage("pip", clock=clock):
        raise KeyboardInterrupt
    assert lines[1] == "[ketnoi] store build: failed after 3.0 s"
    assert lines[3] == "[ketnoi] pip: interrupted after 0.0 s"


def test_the_heartbeat_shows_the_tools_latest_line(tmp_path):
    log = tmp_path / "go.log"
    log.write_text("github.com/FerretDB/wire\r\nmodernc.org/sqlite/lib\n\n")
    assert progress.last_line(log) == "modernc.org/sqlite/lib"
    assert progress.last_line(tmp_path / "missing.log") == ""


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_independent_jobs_run_at_once_and_each_reports(lines, tmp_path):
    # The first job can only end once the second has started: they must run at the same time.
    flag = tmp_path / "second-started"
    waits = textwrap.dedent(f"""
        import pathlib, time
        deadline = time.monotonic() + 30
        while not pathlib.Path({str(flag)!r}).exists():
            assert time.monotonic() < deadline, "the jobs ran one after the other"
            time.sleep(0.01)
    """)
    installed: list[str] = []
    progress.run_jobs([
        progress.Job("Kafka jars", _python(waits), tmp_path / "a.log",
                     then=lambda: installed.append("jars")),
        progress.Job("store build", _python(f"open({str(flag)!r}, 'w').close()"),
                     tmp_path / "b.log"),
    ])  # fmt: skip
    assert installed == ["jars"]
    assert lines[:2] == ["[ketnoi] Kafka jars ...", "[ketnoi] store build ..."]
    assert sorted(line.split(":")[0] for line in lines[2:]) == [
        "[ketnoi] Kafka jars",
        "[ketnoi] store build",
    ]


def test_a_failing_job_names_its_exit_code_and_log_tail(lines, tmp_path):
    with pytest.raises(progress.StageError) as failure:
        progress.run_jobs([
            progress.Job("store build", _python("print('go: module not found'); exit(3)"),
                         tmp_path / "go.log"),
        ])  # fmt: skip
    message = str(failure.value)
    assert "store build failed with exit code 3" in message
    assert "go: module not found" in message and str(tmp_path / "go.log") in message
    assert lines[-1].startswith("[ketnoi] store build: failed (exit 3) after")


def test_the_command_wraps_a_quiet_tool_with_progress_lines(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ketnoi.progress", "Python packages (pip)",
         str(tmp_path / "pip.log"), "--", *_python("print('Collecting fastapi')")],
        capture_output=True, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == "[ketnoi] Python packages (pip) ..."
    assert result.stderr.splitlines()[1].startswith("[ketnoi] Python packages (pip): ")
    assert (tmp_path / "pip.log").read_text() == "Collecting fastapi\n"

    failed = subprocess.run(
        [sys.executable, "-m", "ketnoi.progress", "npm", str(tmp_path / "npm.log"), "--",
         *_python("exit(2)")], capture_output=True, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert failed.returncode == 1 and "npm failed with exit code 2" in failed.stderr


def test_progress_lines_reach_the_terminal_while_pytest_captures(tmp_path):
    """What the ``infra`` fixture prints while it starts Kafka shows up at once, not hidden in
    the captured output of the first test."""
    (tmp_path / "test_slow_setup.py").write_text(
        textwrap.dedent("""
            import pytest
            from ketnoi import progress

            @pytest.fixture(scope="session")
            def infra():
                print("captured, as usual")
                with progress.stage("starting Kafka"):
                    pass

            def test_uses_infra(infra):
                pass
        """)
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.terminal", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
        capture_output=True, text=True, cwd=PROJECT_ROOT,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ketnoi] starting Kafka ..." in result.stdout
    assert "[ketnoi] starting Kafka: " in result.stdout
    assert "captured, as usual" not in result.stdout  # the capture itself still works


def test_the_store_binary_is_cached_by_version_and_build_inputs(tmp_path):
    binary = prepare.store_binary(tmp_path)
    assert binary.parent == tmp_path
    assert binary.name.startswith(f"ketnoi-ferretdb-{prepare.FERRETDB_VERSION}-")
    assert prepare.store_binary(tmp_path) == binary  # stable
    binary.touch()
    assert prepare.store_job(tmp_path) is None  # cached: nothing to build


def test_prepare_runs_with_the_standard_library_alone():
    """``make`` runs ``python -m ketnoi.prepare`` before the virtualenv exists."""
    probe = (
        "import sys; sys.modules['pydantic'] = None; sys.modules['pydantic_settings'] = None\n"
        "import ketnoi.prepare, ketnoi.progress; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r})\n"
         + probe], capture_output=True, text=True,
    )  # fmt: skip
    assert result.stdout.strip() == "ok", result.stderr


def test_kafka_starts_as_soon_as_its_jars_are_in_while_the_store_still_builds(
    lines, tmp_path, monkeypatch
):
    """The store's Go build is the longest first-run stage: Kafka must not wait for it. The
    fake build below can only finish once Kafka has started."""
    from ketnoi.infra import Infra
    from ketnoi.settings import Settings

    started = tmp_path / "kafka-started"
    build = textwrap.dedent(f"""
        import pathlib, time
        deadline = time.monotonic() + 30
        while not pathlib.Path({str(started)!r}).exists():
            assert time.monotonic() < deadline, "Kafka waited for the store build"
            time.sleep(0.01)
    """)
    monkeypatch.setattr(prepare, "kafka_job", lambda cache, logs: progress.Job(
        "Kafka jars", _python("pass"), logs / "jars.log"))  # fmt: skip
    monkeypatch.setattr(prepare, "store_job", lambda cache, logs: progress.Job(
        "store build", _python(build), logs / "go.log"))  # fmt: skip
    infra = Infra(Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache"))
    order: list[str] = []
    infra._prepare_under_lock(True, True, lambda: (started.touch(), order.append("kafka")),
                              tmp_path / "logs")  # fmt: skip
    assert order == ["kafka"]
    assert [line.split(":")[0] for line in lines[2:]] == [
        "[ketnoi] Kafka jars",
        "[ketnoi] store build",
    ]
