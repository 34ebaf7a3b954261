"""Fetch and build what the local infrastructure runs: the Apache Kafka jars (Maven) and the
store (FerretDB, built with Go), cached by version under the cache dir.

Standard library only, so ``make`` runs it with the system Python at the same time as pip
(``python -m ketnoi.prepare``): on a first run the Go build of the store is the longest stage,
and it needs no virtualenv. ``ketnoi infra up`` calls the same functions when something is
missing, and then runs the two at once too.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ketnoi import store_build
from ketnoi.progress import Job, StageError, emit, run_jobs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETUP_LOGS = Path(os.environ.get("KETNOI_HOME") or PROJECT_ROOT / ".ketnoi") / "setup"

KAFKA_VERSION = "3.9.1"
POM = PROJECT_ROOT / "infra" / "kafka" / "pom.xml"
# Checksums of the jars that make the broker, recorded when the version was pinned.
JAR_SHA256 = {
    "kafka_2.13-3.9.1.jar": "5631c61356d55611c158291a69ad028f3c4fed5d0a610c62a0853c65c89d10f6",
    "kafka-clients-3.9.1.jar": "7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9",
    "kafka-server-3.9.1.jar": "02b5a92645865e3152e9d1d829f6d4c4b4272f637b7fe4a2b00cabcbcd8df6f4",
    "kafka-raft-3.9.1.jar": "0d4236cf868f8668c74c49bec4bed41e400bb13d6d381a0f8e9843585b2f159f",
    "kafka-metadata-3.9.1.jar": "35c35118d4abb0b747ad68d1e0be00d5bd02206b462ad76ebbcd85b33436f13a",
    "reload4j-1.2.25.jar": "e71115175c4b080cf51dd72097165ea001ff9fafdc4f79d88049d0b1ecca979c",
}

FERRETDB_VERSION = "v1.24.2"
STORE_SOURCE = PROJECT_ROOT / "infra" / "ferretdb"
GO_TAGS = "ferretdb_no_postgresql"
"""Leave out FerretDB's PostgreSQL backend (pgx): we run SQLite only, and it is the largest
part of the build after the standard library."""
GO_BUILD = ["build", "-trimpath", "-v", f"-tags={GO_TAGS}", "-ldflags=-s -w"]
GO_ENV = {"CGO_ENABLED": "0"}
"""Pure Go (FerretDB's SQLite is transpiled Go): no C compiler in the build, a static binary."""


class PrepareError(RuntimeError):
    """A tool is missing or a fetch/build failed; the message says what to do."""


def default_cache_dir() -> Path:
    """``KETNOI_CACHE_DIR``, else ``~/.cache/ketnoi``: the same default as ``Settings``."""
    return Path(os.environ.get("KETNOI_CACHE_DIR") or Path.home() / ".cache" / "ketnoi")


def require_tool(tool: str, why: str, install_hint: str) -> str:
    """The full path of ``tool`` or a PrepareError that says how to install it."""
    path = shutil.which(tool)
    if path is None:
        raise PrepareError(f"{tool} is needed {why} but was not found on PATH. {install_hint}")
    return path


# -- Kafka -----------------------------------------------------------------------------------
def kafka_libs(cache_dir: Path) -> Path:
    return cache_dir / f"kafka-libs-{KAFKA_VERSION}"


def jars_ok(libs: Path) -> bool:
    for name, digest in JAR_SHA256.items():
        jar = libs / name
        if not jar.is_file() or hashlib.sha256(jar.read_bytes()).hexdigest() != digest:
            return False
    return True


def kafka_job(cache_dir: Path, log_dir: Path = SETUP_LOGS) -> Job | None:
    """The Maven fetch of the Kafka jars, or None when the cached ones match the checksums."""
    libs = kafka_libs(cache_dir)
    if jars_ok(libs):
        return None
    mvn = require_tool(
        "mvn",
        "to fetch the Apache Kafka jars from Maven Central",
        "Install Maven and a JDK 17 (Debian: apt-get install maven openjdk-17-jdk-headless).",
    )
    require_tool("java", "to run Apache Kafka", "Install a JDK 17 (openjdk-17-jdk-headless).")
    tmp = libs.with_name(libs.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)

    def install() -> None:
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        if not jars_ok(libs):
            raise PrepareError(f"the Kafka jars in {libs} do not match the recorded checksums")

    return Job(
        f"Kafka {KAFKA_VERSION} jars (Maven, cached in ~/.m2)",
        [mvn, "-B", "-f", str(POM), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"],
        log_dir / "kafka-jars.log",
        then=install,
    )  # fmt: skip


# -- the store -------------------------------------------------------------------------------
def store_digest() -> str:
    """What the binary is made of: the wrapper's sources, the pinned modules and the flags."""
    flags = [*GO_BUILD, *(f"{name}={value}" for name, value in sorted(GO_ENV.items()))]
    digest = hashlib.sha256(" ".join(flags).encode())
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update(name.encode() + b"\0" + (STORE_SOURCE / name).read_bytes())
    for part in store_build.digest_inputs():  # the patch that indexes _id lookups
        digest.update(part)
    return digest.hexdigest()[:12]


def store_binary(cache_dir: Path) -> Path:
    """Cached by FerretDB version and build digest: a change of either builds a new one."""
    return cache_dir / f"ketnoi-ferretdb-{FERRETDB_VERSION}-{store_digest()}"


def store_job(cache_dir: Path, log_dir: Path = SETUP_LOGS) -> Job | None:
    """The Go build of the store, or None when this version's binary is cached."""
    binary = store_binary(cache_dir)
    if binary.is_file():
        return None
    go = require_tool(
        "go",
        "to build FerretDB (the local MongoDB-compatible store)",
        "Install Go 1.24+ (Debian: apt-get install golang, or the official tarball).",
    )
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_name(binary.name + ".tmp")

    def install() -> None:
        tmp.rename(binary)
        shutil.rmtree(tmp.with_name(tmp.name + ".src"), ignore_errors=True)

    return Job(
        f"store: FerretDB {FERRETDB_VERSION}, _id lookups indexed (Go build, modules cached in "
        "~/go/pkg/mod)",
        [
            sys.executable,
            store_build.__file__,
            "--go",
            go,
            "--version",
            FERRETDB_VERSION,
            "--out",
            str(tmp),
            "--",
            *GO_BUILD,
        ],
        log_dir / "store-build.log",
        cwd=STORE_SOURCE,
        env={**os.environ, **GO_ENV},
        then=install,
    )


def prepare(
    cache_dir: Path | None = None,
    *,
    kafka: bool = True,
    store: bool = True,
    log_dir: Path = SETUP_LOGS,
) -> None:
    """Fetch the jars and build the store when missing, at once; PrepareError if one fails.
    The tools' own output goes to ``log_dir`` (named in the error when one fails)."""
    cache_dir = cache_dir or default_cache_dir()
    with locked(cache_dir):
        jobs = [kafka_job(cache_dir, log_dir) if kafka else None,
                store_job(cache_dir, log_dir) if store else None]  # fmt: skip
        todo = [job for job in jobs if job is not None]
        if not todo:
            return
        try:
            run_jobs(todo)
        except StageError as exc:
            raise PrepareError(str(exc)) from None
        except FileNotFoundError as exc:
            raise PrepareError(f"{exc.filename} could not be started: {exc.strerror}") from None


@contextmanager
def locked(cache_dir: Path) -> Iterator[None]:
    """One preparer per cache at a time (two checkouts, or make and a test run): a second one
    waits, then finds everything cached instead of building into the same temporary files."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ketnoi.prepare [kafka] [store]`` (both when none is named)."""
    names = set(sys.argv[1:] if argv is None else argv) or {"kafka", "store"}
    unknown = names - {"kafka", "store"}
    if unknown:
        print(f"error: unknown part {sorted(unknown)[0]!r}; choose kafka, store or both",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        prepare(kafka="kafka" in names, store="store" in names)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        emit("interrupted: nothing half-built was kept")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
