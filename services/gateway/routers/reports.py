"""Reports for the Department: one session's, or a period's across sessions, as JSON, XLSX or
a printable page. An organizer sees its own sessions only, an admin every session; any other
key gets what it gets for the session itself (404 for one session, 403 for a period).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from services.gateway import access
from services.gateway.auth import CallerDep
from services.gateway.body import StrictJsonRoute
from services.gateway.common import PathId
from services.gateway.context import GatewayDep
from services.gateway.problems import ApiProblem, FieldProblem, documented
from services.gateway.routers.sessions import _own_session
from services.reports import html, loading, xlsx
from services.reports.model import Documents, Report, Scope, build

router = APIRouter(tags=["reports"], route_class=StrictJsonRoute)

MAX_PERIOD_DAYS = 366
"""A year, leap day included: the Department reports by half-year and year."""
MAX_SESSIONS = 200
"""Sessions in one period's report: more is a national archive, not a report to print."""
Format = Annotated[
    Literal["json", "xlsx", "html"],
    Query(description="json (default), xlsx (one sheet per table) or html (printable A4)"),
]
Lang = Annotated[Literal["vi", "en"], Query(description="words of the report: vi (default) or en")]
NO_STORE = {"Cache-Control": "no-store"}
OTHER_FORMATS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report (its format by `format`)",
        "content": {
            xlsx.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }
}


class ReportColumn(BaseModel):
    key: str
    title: str
    kind: str = Field(description="text, count, kg, vnd or date")


class ReportTable(BaseModel):
    key: str
    title: str
    columns: list[ReportColumn]
    rows: list[dict[str, Any]] = Field(description="cells keyed by column")
    totals: dict[str, Any] = Field(description="the totals row, keyed by column")
    note: str | None = None


class ReportFigure(BaseModel):
    key: str
    title: str
    value: float
    kind: str


class ReportView(BaseModel):
    """A report: headline figures, then tables, each with a totals row."""

    kind: Literal["session", "period"]
    session_id: str | None = None
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    lang: Literal["vi", "en"]
    title: str
    generated_at: datetime
    session_ids: list[str]
    headline: list[ReportFigure]
    tables: list[ReportTable]


def _answer(report: Report, form: str, lang: str, filename: str, switch: str) -> Response:
    if form == "xlsx":
        disposition = f'attachment; filename="{filename}.xlsx"'
        return Response(
            xlsx.workbook(report, lang),
            media_type=xlsx.MEDIA_TYPE,
            headers={**NO_STORE, "Content-Disposition": disposition},
        )
    if form == "html":
        page = html.page(report, lang, switch_href=switch)
        return HTMLResponse(page, headers={**NO_STORE, "Content-Security-Policy": html.policy()})
    return JSONResponse(report.as_json(lang), headers=NO_STORE)


def _render(docs: Documents, scope: Scope, form: str, lang: str, name: str, switch: str
            ) -> Response:  # fmt: skip
    report = build(docs, scope, datetime.now(UTC))
    return _answer(report, form, lang, name, switch)


@router.get(
    "/v1/sessions/{session_id}/report",
    response_model=ReportView,
    responses={**OTHER_FORMATS, **documented(401, 404, 422, 429, 503)},
    summary="The session's report: participants, products, meetings, deals, unmet demands",
)
async def session_report(
    session_id: PathId,
    gateway: GatewayDep,
    caller: CallerDep,
    format: Format = "json",
    lang: Lang = "vi",
) -> Response:
    session = await _own_session(gateway, caller, session_id)
    docs = await loading.documents(gateway.db, [session])
    scope = Scope("session", session_id=session_id)
    switch = f"?format=html&lang={'vi' if lang == 'en' else 'en'}"
    # Building and rendering are CPU work: off the event loop, other requests go on.
    return await asyncio.to_thread(
        _render, docs, scope, format, lang, f"bao-cao-{session_id}", switch
    )


def _period(start: date, end: date) -> None:
    if end < start:
        raise ApiProblem(
            422,
            f"to ({end}) is before from ({start})",
            errors=[FieldProblem(path="query.to", problem="before from", allowed=[f">= {start}"])],
        )
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ApiProblem(
            422,
            f"the period from {start} to {end} is longer than {MAX_PERIOD_DAYS} days; "
            "ask for a year or less (e.g. a half-year) at a time",
            errors=[
                FieldProblem(
                    path="query.to",
                    problem=f"{(end - start).days + 1} days after from",
                    allowed=[f"<= {MAX_PERIOD_DAYS} days after from"],
                )
            ],
        )


@router.get(
    "/v1/reports",
    response_model=ReportView,
    responses={**OTHER_FORMATS, **documented(401, 403, 422, 429, 503)},
    summary="A period's report across the sessions whose dates overlap it",
)
async def period_report(
    gateway: GatewayDep,
    caller: CallerDep,
    start: Annotated[date, Query(alias="from", description="first day, YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="last day, YYYY-MM-DD (inclusive)")],
    format: Format = "json",
    lang: Lang = "vi",
) -> Response:
    scope_filter = access.session_scope(caller)  # 403 for keys that run no session
    _period(start, end)
    sessions = await loading.sessions_in_period(gateway.db, scope_filter, start, end, MAX_SESSIONS)
    if len(sessions) > MAX_SESSIONS:
        raise ApiProblem(
            422,
            f"more than {MAX_SESSIONS} sessions overlap the period; ask for a shorter one",
            errors=[FieldProblem(path="query.to", problem=f"over {MAX_SESSIONS} sessions")],
        )
    docs = await loading.documents(gateway.db, sessions)
    scope = Scope("period", start=start, end=end)
    other = "vi" if lang == "en" else "en"
    switch = f"?from={start}&to={end}&format=html&lang={other}"
    name = f"bao-cao-{start}-{end}"
    return await asyncio.to_thread(_render, docs, scope, format, lang, name, switch)
