"""Faust worker that records every offer, demand and matcher outcome into MongoDB."""

from __future__ import annotations

import logging

import faust
from pymongo.asynchronous.database import AsyncDatabase

from ketnoi.settings import Settings
from schemas.events import AnyEvent, DemandUnmatched
from services.common.faust_app import fail_stop, make_app, raw_topic, run_worker
from services.common.intake import parse_or_dead_letter
from services.common.store import DEMANDS, connect, database, ensure_indexes
from services.common.topics import ensure_topics
from services.recorder.documents import upserts_for

log = logging.getLogger("ketnoi.recorder")


async def write(store: AsyncDatabase, event: AnyEvent) -> None:
    """Apply an event's upserts; each is idempotent, so redelivery is harmless."""
    for collection, doc_id, fields in upserts_for(event):
        if collection == DEMANDS and isinstance(event, DemandUnmatched):
            # Never let a late "still open" overwrite "matched" for the same demand.
            await store[collection].update_one(
                {"_id": doc_id, "match_status": {"$ne": "matched"}}, {"$set": fields}
            )
            await store[collection].update_one(
                {"_id": doc_id}, {"$setOnInsert": fields}, upsert=True
            )
        else:
            await store[collection].update_one({"_id": doc_id}, {"$set": fields}, upsert=True)


def build(settings: Settings) -> faust.App:
    app = make_app("recorder", settings)
    names = settings.topics
    source = raw_topic(app, names.orders, names.matches)
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
