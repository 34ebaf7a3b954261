"""Faust worker that records every offer, demand and matcher outcome into MongoDB.

Every event passes the same ``Intake`` as in the matcher. A write the store refuses because of
the event (a write error while the store answers pings) dead-letters that event, as the same
event would be refused on every replay. A store that does not answer is an outage: the worker
holds the event (not committed), says so once per retry interval and writes it when the store
is back, so the recorder recovers by itself. A stop requested meanwhile leaves the event
uncommitted (exit 0): it is written after the restart. Any other error stops the worker
without committing (fail-stop, decision 5).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

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
from services.common.outages import RETRY_SECONDS, Dependency
from services.common.shutdown import STOP
from services.common.store import connect, database, ensure_indexes
from services.common.topics import ensure_topics
from services.recorder.documents import writes_for
from services.recorder.match_sessions import placed
from services.recorder.programme import settle
from services.recorder.writes import Write

log = logging.getLogger("ketnoi.recorder")


async def write(store: AsyncDatabase, event: AnyEvent) -> None:
    """Apply an event's writes; each is idempotent and guarded (a newer revision, or a value
    that must not be overwritten, wins)."""
    for item in await placed(store, event, writes_for(event)):
        await _guarded(store[item.collection], item)
    await settle(store, event)  # what both parties agree on, from the statements stored


async def _guarded(collection: Any, item: Write) -> None:
    """An update of the stored document under the guard, else an insert, else (a document
    stored without a revision, e.g. a withdrawal recorded first) an update of that. A first
    revision is inserted first: it is usually not stored yet. No match and a duplicate key
    both mean the stored document is newer or guarded: already superseded.

    Not one upsert with the guard in its filter: FerretDB scans the whole collection for an
    upsert, and for any lookup of an ``_id`` it does not hold (30-240 ms per write at 5,000
    documents, growing with the collection: 3 offers/s recorded at 50,000). An insert, and an
    update of a stored document, are index lookups there as on MongoDB.
    """
    if item.newer_than_stored is None and not item.unless:
        await collection.update_one({"_id": item.doc_id}, {"$set": item.fields}, upsert=True)
        return
    query: dict[str, Any] = {"_id": item.doc_id}
    query.update({name: {"$ne": value} for name, value in item.unless.items()})
    if item.newer_than_stored is not None:
        query["revision"] = {"$lt": item.newer_than_stored}
    first = item.newer_than_stored == 1
    if not first and (await collection.update_one(query, {"$set": item.fields})).matched_count:
        return
    try:
        await collection.insert_one({"_id": item.doc_id, **item.fields})
        return
    except DuplicateKeyError:
        pass  # stored already: newer or guarded, unless it has no revision yet
    if item.newer_than_stored is not None:
        query["revision"] = {"$exists": False}
        await collection.update_one(query, {"$set": item.fields})


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

    store_health = Dependency("the store", settings.mongo_url, log)

    @app.task
    async def prepare() -> None:
        await ensure_topics(settings)

    async def db() -> AsyncDatabase:
        if "db" not in state:
            state["client"] = connect(settings)
            state["db"] = database(state["client"], settings)
        if not state.get("indexed"):
            await ensure_indexes(state["db"])
            state["indexed"] = True
        return state["db"]

    @app.agent(source)
    async def record(stream: faust.StreamT) -> None:
        async for event in stream.events():
            # Every way out but the loop's end must stop without committing: Faust acks the
            # event when the body is left, and its agent supervisor would skip it (the
            # dead-letter send is inside too).
            try:
                parsed = await intake.admit(event)
                if parsed is not None:
                    await record_one(event, parsed)
            except asyncio.CancelledError as exc:
                if STOP.requested:
                    STOP.abandon(log, "recorder", f"the event at {_where(event)}")
                fail_stop(log, "recorder", exc)
            except Exception as exc:
                fail_stop(log, "recorder", exc)

    async def record_one(event: EventT, parsed: AnyEvent) -> None:
        """Write the event; while the store is away, hold it and retry every RETRY_SECONDS."""
        attempt = 0
        while True:
            attempt += 1
            started = asyncio.get_running_loop().time()
            work = _attempt(event, parsed)
            if attempt == 1:
                error = await work  # the usual case: finish it, even when asked to stop
            else:
                done, error = await STOP.unless_stopped(work)
                if not done:
                    STOP.abandon(log, "recorder", f"the event at {_where(event)}")
            if error is None:
                store_health.ok()
                return
            store_health.failed(error, f"holding the event at {_where(event)}, not committed")
            waited = asyncio.get_running_loop().time() - started
            await STOP.sleep(max(0.0, RETRY_SECONDS - waited))
            if STOP.requested:
                STOP.abandon(log, "recorder", f"the event at {_where(event)}")

    async def _attempt(event: EventT, parsed: AnyEvent) -> Exception | None:
        """One try: None when written (or dead-lettered as the event's fault), the error when
        the store is away; raises what is neither (a bug: fail-stop)."""
        try:
            store = await db()
        except Exception as exc:
            if "db" in state and await caused_by_event(state["db"], exc):
                raise  # the store answers but refuses our indexes: not an outage
            return exc
        try:
            await write(store, parsed)
        except Exception as exc:
            if not await caused_by_event(store, exc):
                return exc
            await intake.reject(event, "store", describe(exc), exc)
        return None

    @app.on_before_shutdown.connect
    async def close_store(app: faust.App, **kwargs) -> None:
        if "client" in state:
            await state["client"].close()

    return app


def _where(event: EventT) -> str:
    message = event.message
    return f"{message.topic}[{message.partition}]@{message.offset}"


def run(settings: Settings) -> None:
    run_worker(build(settings), settings, "recorder")
