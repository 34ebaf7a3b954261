"""Faust worker that records every offer, demand and matcher outcome into MongoDB."""

from __future__ import annotations

import contextlib
import logging

import faust
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ketnoi.settings import Settings
from schemas.events import AnyEvent
from services.common.faust_app import fail_stop, make_app, raw_topic, run_worker
from services.common.intake import parse_or_dead_letter
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


def build(settings: Settings) -> faust.App:
    app = make_app("recorder", settings)
    names = settings.topics
    source = raw_topic(app, names.orders, names.matches, names.sessions, names.organizations)
    dead_letter = raw_topic(app, names.dead_letter)
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
            parsed = await parse_or_dead_letter(event, dead_letter, "recorder", log)
            if parsed is None:
                continue
            try:
                await write(await db(), parsed)
            except Exception as exc:
                fail_stop(log, "recorder", exc)

    @app.on_before_shutdown.connect
    async def close_store(app: faust.App, **kwargs) -> None:
        if "client" in state:
            await state["client"].close()

    return app


def run(settings: Settings) -> None:
    run_worker(build(settings), settings)
