"""A report built from plain documents: pure, so its totals are checked against a recount.

The documents are those the recorder keeps (sessions, participants, organizations, offers,
demands, matches, meetings, outcomes, deliveries), as dicts with ``_id``. What counts:

- the orders of a session are those posted in it (``session_id``), whatever became of them
  later (an offer withdrawn when a session closed was still offered at it);
- a match belongs to its demand's session, else its offer's (figures.py's rule); its value
  is its kilograms at the offer's price per kg;
- a meeting was held when it is still scheduled and its outcome has at least one statement;
- an MoU or contract counts as *agreed* when both sides stated the same (outcomes.py), as
  *claimed* when only one side stated a deal (or the two disagree: counted once, with the
  larger of the two claims, so a dispute never looks smaller than either side says);
- a delivery counts as confirmed when both sides stated the same kilograms and value.

Every table ends with a totals row; the first cell names it.
"""

from __future__ import annotations

from datetime import datetime

from services.reports import tables as t
from services.reports.facts import kg, match_value_vnd
from services.reports.labels import Label, category_label
from services.reports.shapes import (
    NUMERIC,
    TOP_UNMET,
    Cell,
    Column,
    Documents,
    Figure,
    Kind,
    Report,
    Scope,
    Table,
    number,
)
from services.reports.shapes import col as _col

__all__ = [
    "NUMERIC",
    "TOP_UNMET",
    "Cell",
    "Column",
    "Documents",
    "Figure",
    "Report",
    "Scope",
    "Table",
    "build",
]


def _headline(
    w: t.World, tables: dict[str, Table], deals: list[t.Deal], unmet: list
) -> list[Figure]:
    provinces = {t.province(w.orgs.get(o)) for o in w.roles} - {None, ""}
    confirmed = t.confirmed_matches(w)

    def deal_sum(kind: str | None, agreed: bool, what: str) -> int | float:
        chosen = [d for d in deals if d.agreed == agreed and (kind is None or d.kind == kind)]
        if what == "count":
            return len(chosen)
        return kg(sum(d.kg for d in chosen)) if what == "kg" else sum(d.vnd for d in chosen)

    def f(key: str, vi: str, en: str, value: int | float, kind: Kind = "count") -> Figure:
        return Figure(key, Label(vi, en), value, kind)

    meetings = tables["meetings"]
    return [
        f("sessions", "Phiên kết nối", "Sessions", len(w.sessions)),
        f("provinces", "Tỉnh/thành tham gia", "Provinces taking part", len(provinces)),
        f("organizations", "Đơn vị tham gia", "Organizations taking part", len(w.roles)),
        f("buyers", "Bên mua", "Buyers", sum("buyer" in r for r in w.roles.values())),
        f("suppliers", "Bên bán", "Suppliers", sum("supplier" in r for r in w.roles.values())),
        # Everything posted at the session, withdrawn or cancelled since included: what the
        # session drew. /stats counts the orders still standing (figures.py), a different name.
        f(
            "offers",
            "Chào bán đã đăng (kể cả đã rút)",
            "Offers posted (incl. withdrawn)",
            len(w.session_offers),
        ),
        f(
            "demands",
            "Nhu cầu đã đăng (kể cả đã hủy)",
            "Demands posted (incl. cancelled)",
            len(w.session_demands),
        ),
        f(
            "meetings_held",
            "Cuộc gặp đã diễn ra",
            "Meetings held",
            int(number(meetings.total("held"))),
        ),
        f("mous", "MoU hai bên xác nhận", "MoUs agreed by both", deal_sum("mou", True, "count")),
        f("mou_vnd", "Giá trị MoU (VND)", "MoU value (VND)", deal_sum("mou", True, "vnd"), "vnd"),
        f(
            "contracts",
            "Hợp đồng hai bên xác nhận",
            "Contracts agreed by both",
            deal_sum("contract", True, "count"),
        ),
        f(
            "contract_kg",
            "Khối lượng hợp đồng (kg)",
            "Contract quantity (kg)",
            deal_sum("contract", True, "kg"),
            "kg",
        ),
        f(
            "contract_vnd",
            "Giá trị hợp đồng (VND)",
            "Contract value (VND)",
            deal_sum("contract", True, "vnd"),
            "vnd",
        ),
        f(
            "claimed",
            "MoU/hợp đồng chỉ một bên khai",
            "MoUs/contracts claimed by one side",
            deal_sum(None, False, "count"),
        ),
        f("confirmed_matches", "Kết nối đã chốt", "Confirmed matches", len(confirmed)),
        f(
            "confirmed_kg",
            "Khối lượng đã chốt (kg)",
            "Confirmed quantity (kg)",
            kg(sum(float(m.get("quantity_kg") or 0) for m in confirmed)),
            "kg",
        ),
        f(
            "confirmed_vnd",
            "Giá trị đã chốt (VND)",
            "Confirmed value (VND)",
            sum(match_value_vnd(m) for m in confirmed),
            "vnd",
        ),
        f("unmet_demands", "Nhu cầu chưa đáp ứng đủ", "Demands not fully met", len(unmet)),
        f(
            "unmet_kg",
            "Khối lượng còn thiếu (kg)",
            "Quantity still open (kg)",
            kg(sum(fig.open_kg for _, fig in unmet)),
            "kg",
        ),
    ]


def _title(scope: Scope, w: t.World) -> Label:
    if scope.kind == "session" and scope.session_id in w.sessions:
        name = str(w.sessions[scope.session_id].get("name") or scope.session_id)
        return Label(
            f"Báo cáo kết quả phiên kết nối cung cầu: {name}",
            f"Trade-connection session report: {name}",
        )
    start = scope.start.strftime("%d/%m/%Y") if scope.start else "…"
    end = scope.end.strftime("%d/%m/%Y") if scope.end else "…"
    return Label(
        f"Báo cáo kết nối cung cầu từ {start} đến {end}",
        f"Supply-demand connection report, {start} to {end}",
    )


def build(docs: Documents, scope: Scope, generated_at: datetime) -> Report:
    """The report of ``scope`` from ``docs``: the sessions in ``docs.sessions`` are the
    report's (the caller chose them: one session, or those overlapping the period)."""
    session_ids = [s["_id"] for s in docs.sessions]
    w = t.world(docs, session_ids)
    deals = t.deals(w)
    unmet = t.unmet_rows(w)
    origin = _col("province", "Tỉnh/thành xuất xứ", "Province of origin")
    category = _col("category", "Ngành hàng", "Category")
    tables = [
        t.sessions_table(w),
        t.provinces_table(w),
        t.organizations_table(w),
        t.products_table(w),
        t.meetings_table(w),
        t.deals_table(
            w,
            deals,
            "deals_by_origin",
            origin,
            Label(
                "MoU và hợp đồng theo tỉnh/thành xuất xứ",
                "MoUs and contracts by province of origin",
            ),
            lambda d: d.origin,
            t.place,
        ),
        t.deals_table(
            w,
            deals,
            "deals_by_category",
            category,
            Label("MoU và hợp đồng theo ngành hàng", "MoUs and contracts by category"),
            lambda d: d.category,
            category_label,
        ),
        t.deliveries_table(w),
        t.match_status_table(w),
        t.confirmed_table(
            w,
            "confirmed_by_origin",
            origin,
            Label(
                "Kết nối đã chốt theo tỉnh/thành xuất xứ", "Confirmed matches by province of origin"
            ),
            t.origin_of_match(w),
            t.place,
        ),
        t.confirmed_table(
            w,
            "confirmed_by_category",
            category,
            Label("Kết nối đã chốt theo ngành hàng", "Confirmed matches by category"),
            lambda m: m.get("category"),
            category_label,
        ),
        t.unmet_table(w, unmet),
    ]
    by_key = {t.key: t for t in tables}
    headline = _headline(w, by_key, deals, unmet)
    return Report(
        scope=scope,
        title=_title(scope, w),
        generated_at=generated_at,
        session_ids=tuple(sorted(w.sessions)),
        headline=tuple(headline),
        tables=tuple(tables),
    )
