"""The HTTP gateway: validate, publish to Kafka, answer 202; read results from MongoDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from ketnoi.settings import Settings
from schemas.events import DemandPosted, OfferPublished, utcnow
from schemas.orders import Demand, DemandSubmission, Offer, OfferSubmission
from schemas.problems import explain_errors
from services.common.store import DEMANDS, MATCHES, OFFERS, connect, database
from services.common.topics import ensure_topics
from services.gateway.publisher import EventPublisher, PublishUnavailable

API_SOURCE = "api"


class Accepted(BaseModel):
    """Answer to a write: the event is durably in Kafka; its effects follow asynchronously."""

    event_id: uuid.UUID
    id: str
    status_url: str


def _publisher(request: Request) -> EventPublisher:
    return request.app.state.publisher


def _db(request: Request) -> AsyncDatabase:
    return request.app.state.db


Publisher = Annotated[EventPublisher, Depends(_publisher)]
Store = Annotated[AsyncDatabase, Depends(_db)]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings)
        publisher = EventPublisher(settings.kafka_bootstrap)
        await publisher.start()
        client = connect(settings)
        app.state.publisher = publisher
        app.state.db = database(client, settings)
        try:
            yield
        finally:
            await publisher.stop()
            await client.close()

    app = FastAPI(
        title="Ketnoi gateway",
        version="0.1.0",
        description="Kết nối cung cầu: publish offers and demands, read matches.",
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = explain_errors(exc.errors(), skip_loc=1)  # drop "body" / "query"
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Invalid request",
                "status": 422,
                "detail": "; ".join(str(p) for p in problems[:5]),
                "errors": [p.as_dict() for p in problems],
            },
            status_code=422,
            media_type="application/problem+json",
        )

    @app.exception_handler(PublishUnavailable)
    async def unavailable(request: Request, exc: PublishUnavailable) -> JSONResponse:
        return JSONResponse(
            {"title": "event log unavailable", "detail": str(exc), "status": 503},
            status_code=503,
            headers={"Retry-After": "5"},
            media_type="application/problem+json",
        )

    @app.post("/v1/offers", status_code=202, response_model=Accepted, tags=["offers"])
    async def publish_offer(body: OfferSubmission, pub: Publisher) -> Accepted:
        offer = Offer.model_validate({**body.model_dump(), "offer_id": str(uuid.uuid4())})
        event = OfferPublished(event_id=uuid.uuid4(), occurred_at=utcnow(), source=API_SOURCE,
                               offer=offer)  # fmt: skip
        await pub.publish(settings.topics.named(event.TOPIC), event)
        return Accepted(event_id=event.event_id, id=offer.offer_id,
                        status_url=f"/v1/offers/{offer.offer_id}")  # fmt: skip

    @app.post("/v1/demands", status_code=202, response_model=Accepted, tags=["demands"])
    async def post_demand(body: DemandSubmission, pub: Publisher) -> Accepted:
        demand = Demand.model_validate({**body.model_dump(), "demand_id": str(uuid.uuid4())})
        event = DemandPosted(event_id=uuid.uuid4(), occurred_at=utcnow(), source=API_SOURCE,
                             demand=demand)  # fmt: skip
        await pub.publish(settings.topics.named(event.TOPIC), event)
        return Accepted(event_id=event.event_id, id=demand.demand_id,
                        status_url=f"/v1/demands/{demand.demand_id}")  # fmt: skip

    async def _get(collection: str, doc_id: str, store: AsyncDatabase) -> dict[str, Any]:
        doc = await store[collection].find_one({"_id": doc_id})
        if doc is None:
            raise HTTPException(404, f"{collection[:-1]} {doc_id!r} not found (yet)")
        return _public(doc, collection)

    @app.get("/v1/offers/{offer_id}", tags=["offers"])
    async def get_offer(offer_id: str, store: Store) -> dict[str, Any]:
        return await _get(OFFERS, offer_id, store)

    @app.get("/v1/demands/{demand_id}", tags=["demands"])
    async def get_demand(demand_id: str, store: Store) -> dict[str, Any]:
        return await _get(DEMANDS, demand_id, store)

    @app.get("/v1/matches", tags=["matches"])
    async def list_matches(
        store: Store,
        demand_id: str | None = None,
        offer_id: str | None = None,
        buyer_id: str | None = None,
        supplier_id: str | None = None,
        category: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        filters = {
            k: v
            for k, v in {
                "demand_id": demand_id,
                "offer_id": offer_id,
                "buyer_id": buyer_id,
                "supplier_id": supplier_id,
                "category": category,
            }.items()
            if v is not None
        }
        cursor = store[MATCHES].find(filters).sort("occurred_at", -1).limit(limit)
        items = [_public(doc, MATCHES) async for doc in cursor]
        return {"items": items, "count": len(items)}

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(store: Store) -> JSONResponse:
        from ketnoi.infra.health import kafka_health

        checks = {"store": "ok", "kafka": "ok"}
        try:
            await store.command("ping")
        except Exception as exc:
            checks["store"] = f"{type(exc).__name__}: {exc}"
        kafka = await kafka_health(settings.kafka_bootstrap, timeout=3.0)
        if not kafka.healthy:
            checks["kafka"] = kafka.detail
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    return app


def _public(doc: dict[str, Any], collection: str) -> dict[str, Any]:
    """A stored document as the API shows it: ``_id`` becomes the entity's id field."""
    id_field = {OFFERS: "offer_id", DEMANDS: "demand_id", MATCHES: "match_id"}[collection]
    out = {id_field: doc.pop("_id"), **doc}
    if out.get("occurred_at") is not None:
        out["occurred_at"] = out["occurred_at"].isoformat()
    return out
