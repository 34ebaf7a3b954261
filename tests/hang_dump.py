"""``kill -USR1 <pid>`` of a pytest process (a worker under xdist) writes where it is stuck:
every thread's stack and every asyncio task's, to ``.ketnoi/test-logs/stuck-<pid>.txt``. An
async test shares its worker's event loop with the tests before it, and a thread dump alone
shows only the loop waiting in ``select``."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
from pathlib import Path
from types import FrameType


def install(folder: Path) -> None:
    def dump(_signum: int, _frame: FrameType | None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"stuck-{os.getpid()}.txt", "w", encoding="utf-8") as out:
            faulthandler.dump_traceback(file=out, all_threads=True)
            loop = asyncio._get_running_loop()
            tasks = asyncio.all_tasks(loop) if loop is not None else set()
            out.write(f"\n{len(tasks)} asyncio task(s) of the running loop\n")
            for task in tasks:
                out.write(f"\n{task!r}\n")
                task.print_stack(file=out)

    signal.signal(signal.SIGUSR1, dump)
