"""Faust worker that records every offer, demand and matcher outcome into MongoDB.

Every event passes the same ``Intake`` as in the matcher. A write the store refuses because of
the event (a write error while the store answers pings) dead-letters that event, as the same
event would be refused on every replay; a store that does not answer stops the worker without
committing (fail-stop), and the event is written after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import faust
from faust.types import EventT
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    PyMongoError,
    WTimeoutError,
)

from ketnoi.settings import Settings
from schemas.events import AnyEvent
from schemas.problems import describe
from services.common.faust_app import fail_stop, make_app, raw_topic, run_worker
from services.common.intake import Intake
from services.common.store import connect, database, ensure_indexes
from services.common.topics import ensure_topics
from services.recorder.documents import writes_for

log = logging.getLogger("ketnoi.recorder")


async def write(store: AsyncDatabase, event: AnyEvent) -> None:
    """Apply an event's writes; each is an idempotent, guarded upsert."""
    for item in writes_for(event):
        query: dict = {"_id": item.doc_id}
        if item.newer_than_stored is not None:
            query["$or"] = [
                {"revision": {"$lt": item.newer_than_stored}},
                {"revision": {"$exists": False}},
            ]
        for name, value in item.unless.items():
            query[name] = {"$ne": value}
        # A DuplicateKeyError means the stored document is newer or guarded: already superseded.
        with contextlib.suppress(DuplicateKeyError):
            await store[item.collection].update_one(query, {"$set": item.fields}, upsert=True)


_OUTAGE_LABELS = ("RetryableWriteError", "TransientTransactionError")
_OUTAGE = (ConnectionFailure, WTimeoutError, ExecutionTimeout, OSError, asyncio.TimeoutError)


async def caused_by_event(store: AsyncDatabase, exc: Exception) -> bool:
    """True when the store refused this event's write and would refuse it on every replay.

    Unreachable, timed-out or "retry me" errors are outages; so is any error while the store
    does not answer a ping, since a write cannot be judged against a store that is away."""
    if isinstance(exc, _OUTAGE):
        return False
    if isinstance(exc, PyMongoError) and any(exc.has_error_label(x) for x in _OUTAGE_LABELS):
        return False
    try:
        await store.command("ping")
    except PyMongoError:
        return False
    return True


def build(settings: Settings) -> faust.App:
    app = make_app("recorder", settings)
    names = settings.topics
    source = raw_topic(app, names.orders, names.matches, names.sessions, names.organizations)
    dead_letter = raw_topic(app, names.dead_letter)
    intake = Intake("recorder", settings, dead_letter, log)
    state: dict = {}

    @app.task
    async def prepare() -> None:
        await ensure_topics(settings)

    async def db() -> AsyncDatabase:
        if "db" not in state:
            state["client"] = connect(settings)
            state["db"] = database(state["client"], settings)
            await ensure_indexes(state["db"])
        return state["db"]

    @app.agent(source)
    async def record(stream: faust.StreamT) -> None:
        async for event in stream.events():
            # Every way out but the loop's end must stop without committing: Faust's agent
            # supervisor would skip the event (the dead-letter send is inside too).
            try:
                parsed = await intake.admit(event)
                if parsed is not None:
                    await record_one(event, parsed)
            except Exception as exc:
                fail_stop(log, "recorder", exc)

    async def record_one(event: EventT, parsed: AnyEvent) -> None:
        store = await db()
        try:
            await write(store, parsed)
        except Exception as exc:
            if not await caused_by_event(store, exc):
                raise
            await intake.reject(event, "store", describe(exc), exc)

    @app.on_before_shutdown.connect
    async def close_store(app: faust.App, **kwargs) -> None:
        if "client" in state:
            await state["client"].close()

    return app


def run(settings: Settings) -> None:
    run_worker(build(settings), settings)
