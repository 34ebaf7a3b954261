"""The report's tables, each counted from the indexed documents (``World``). Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.common.figures import session_figures
from services.reports import facts
from services.reports.facts import kg
from services.reports.labels import (
    MATCH_STATUS,
    ROLE,
    SESSION_STATUS,
    UNKNOWN,
    Label,
    category_label,
    group_label,
    group_of,
    kind_label,
    reason_label,
    stars_label,
)
from services.reports.shapes import TOP_UNMET, Cell, Column, Doc, Documents, Table
from services.reports.shapes import col as _col
from services.reports.shapes import table as _table

# -- reading the documents ----------------------------------------------------------------


def province(doc: Doc | None, field_name: str = "province") -> str | None:
    place = (doc or {}).get(field_name) or {}
    return place.get("name") if isinstance(place, Mapping) else None


def place(name: str | None) -> Label:
    return Label(name, name) if name else UNKNOWN


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


@dataclass
class Deal:
    """One MoU or contract (agreed by both sides, or claimed by one) as the tables count it."""

    kind: str
    agreed: bool
    kg: float
    vnd: int
    origin: str | None
    category: str | None


@dataclass
class World:
    """The documents, indexed, and what is derived from them once."""

    docs: Documents
    sessions: dict[str, Doc] = field(default_factory=dict)
    orgs: dict[str, Doc] = field(default_factory=dict)
    offers: dict[str, Doc] = field(default_factory=dict)
    demands: dict[str, Doc] = field(default_factory=dict)
    matches: list[Doc] = field(default_factory=list)  # those of the report's sessions
    match_by_id: dict[str, Doc] = field(default_factory=dict)
    match_session: dict[str, str] = field(default_factory=dict)
    roles: dict[str, set[str]] = field(default_factory=dict)  # org id -> parties
    sessions_of_org: dict[str, set[str]] = field(default_factory=dict)
    session_offers: list[Doc] = field(default_factory=list)
    session_demands: list[Doc] = field(default_factory=list)

    def org_name(self, org_id: str | None) -> str:
        org = self.orgs.get(org_id or "")
        return str(org.get("name") or org_id) if org else str(org_id or "")

    def in_scope(self, doc: Doc) -> bool:
        return doc.get("session_id") in self.sessions


def world(docs: Documents, session_ids: Iterable[str]) -> World:
    w = World(docs)
    wanted = set(session_ids)
    w.sessions = {s["_id"]: s for s in docs.sessions if s["_id"] in wanted}
    w.orgs = {o["_id"]: o for o in docs.organizations}
    w.offers = {o["_id"]: o for o in docs.offers}
    w.demands = {d["_id"]: d for d in docs.demands}
    w.match_by_id = {m["_id"]: m for m in docs.matches}
    for m in docs.matches:
        session = facts.session_of_match(m, w.demands, w.offers)
        if session in w.sessions:
            w.matches.append(m)
            w.match_session[m["_id"]] = session
    for p in docs.participants:
        if p.get("session_id") in w.sessions and p.get("org_id"):
            w.roles.setdefault(p["org_id"], set()).add(str(p.get("party")))
            w.sessions_of_org.setdefault(p["org_id"], set()).add(p["session_id"])
    w.session_offers = [o for o in docs.offers if w.in_scope(o)]
    w.session_demands = [d for d in docs.demands if w.in_scope(d)]
    return w


# -- the tables ---------------------------------------------------------------------------


def confirmed_matches(w: World) -> list[Doc]:
    return [m for m in w.matches if facts.match_state(m) == "confirmed"]


def sessions_table(w: World) -> Table:
    columns = [
        _col("session_id", "Mã phiên", "Session id"),
        _col("name", "Tên phiên", "Name"),
        _col("host", "Tỉnh/thành chủ trì", "Host province"),
        _col("start", "Từ ngày", "From", "date"),
        _col("end", "Đến ngày", "To", "date"),
        _col("status", "Trạng thái", "Status"),
        _col("buyers", "Bên mua", "Buyers", "count"),
        _col("suppliers", "Bên bán", "Suppliers", "count"),
        _col("offers", "Chào bán đã đăng", "Offers posted", "count"),
        _col("demands", "Nhu cầu đã đăng", "Demands posted", "count"),
        _col("confirmed", "Kết nối đã chốt", "Confirmed matches", "count"),
        _col("confirmed_kg", "Khối lượng đã chốt (kg)", "Confirmed (kg)", "kg"),
        _col("value_vnd", "Giá trị đã chốt (VND)", "Confirmed value (VND)", "vnd"),
    ]
    provinces = {org_id: province(org) or "" for org_id, org in w.orgs.items()}
    orders = {**w.offers, **w.demands}
    by_order: dict[str, list[Doc]] = defaultdict(list)
    for m in w.docs.matches:
        for order_id in {m.get("offer_id"), m.get("demand_id")}:
            by_order[str(order_id)].append(m)
    rows = []
    for sid, s in sorted(w.sessions.items(), key=lambda kv: (_dates(kv[1])[0] or date.min, kv[0])):
        start, end = _dates(s)
        # The session's own figures, counted as /stats and the monitor count them.
        offers = [o for o in w.session_offers if o["session_id"] == sid]
        demands = [d for d in w.session_demands if d["session_id"] == sid]
        f = session_figures(
            sid,
            [p for p in w.docs.participants if p.get("session_id") == sid],
            provinces,
            offers,
            demands,
            [m for order in (*offers, *demands) for m in by_order[order["_id"]]],
            orders,
        )
        rows.append(
            (
                sid,
                str(s.get("name") or ""),
                place(province(s, "host_province")),
                start.isoformat() if start else None,
                end.isoformat() if end else None,
                SESSION_STATUS.get(str(s.get("status")), UNKNOWN),
                f["participants"]["buyer"],
                f["participants"]["supplier"],
                _posted(f["offers"]),
                _posted(f["demands"]),
                f["matches"]["confirmed"]["count"],
                f["confirmed_kg"],
                f["value_vnd"],
            )
        )
    title = Label("Các phiên kết nối", "Sessions")
    return _table("sessions", title, columns, rows)


def _posted(orders: dict[str, Any]) -> int:
    """Orders posted in a session, whatever became of them (withdrawn ones included)."""
    return sum(int(t["count"]) for t in orders["by_state"].values())


def _dates(session: Doc) -> tuple[date | None, date | None]:
    dates = session.get("dates") or {}
    return _day(dates.get("start")), _day(dates.get("end"))


def provinces_table(w: World) -> Table:
    columns = [
        _col("province", "Tỉnh/thành", "Province"),
        _col("buyers", "Bên mua", "Buyers", "count"),
        _col("suppliers", "Bên bán", "Suppliers", "count"),
        _col("organizations", "Đơn vị", "Organizations", "count"),
    ]
    counts: dict[str | None, Counter[str]] = defaultdict(Counter)
    for org_id, roles in w.roles.items():
        bucket = counts[province(w.orgs.get(org_id))]
        bucket["organizations"] += 1
        for role in roles & {"buyer", "supplier"}:
            bucket[role] += 1
    rows = [
        (place(p), c["buyer"], c["supplier"], c["organizations"])
        for p, c in sorted(counts.items(), key=lambda kv: (-kv[1]["organizations"], kv[0] or "~"))
    ]
    title = Label("Tỉnh/thành tham gia", "Participating provinces")
    note = Label(
        "Mỗi đơn vị được tính một lần theo tỉnh/thành đăng ký, dù tham gia nhiều phiên.",
        "Each organization counts once, in the province it registered, however many sessions.",
    )
    return _table("provinces", title, columns, rows, note)


def organizations_table(w: World) -> Table:
    columns = [
        _col("name", "Đơn vị", "Organization"),
        _col("org_id", "Mã đơn vị", "Id"),
        _col("kind", "Loại hình", "Kind"),
        _col("province", "Tỉnh/thành", "Province"),
        _col("role", "Vai trò", "Role"),
        _col("sessions", "Số phiên", "Sessions", "count"),
        _col("offers", "Chào bán đã đăng", "Offers posted", "count"),
        _col("demands", "Nhu cầu đã đăng", "Demands posted", "count"),
        _col("sold_kg", "Đã chốt bán (kg)", "Sold, confirmed (kg)", "kg"),
        _col("bought_kg", "Đã chốt mua (kg)", "Bought, confirmed (kg)", "kg"),
    ]
    offers = Counter(o.get("supplier_id") for o in w.session_offers)
    demands = Counter(d.get("buyer_id") for d in w.session_demands)
    sold: defaultdict[str, float] = defaultdict(float)
    bought: defaultdict[str, float] = defaultdict(float)
    for m in confirmed_matches(w):
        sold[str(m.get("supplier_id"))] += float(m.get("quantity_kg") or 0)
        bought[str(m.get("buyer_id"))] += float(m.get("quantity_kg") or 0)
    rows = []
    for org_id in sorted(w.roles, key=lambda o: (w.org_name(o).casefold(), o)):
        org = w.orgs.get(org_id) or {}
        roles = [ROLE[r] for r in ("buyer", "supplier") if r in w.roles[org_id]]
        role = Label(", ".join(r.vi for r in roles), ", ".join(r.en for r in roles))
        rows.append(
            (
                w.org_name(org_id),
                org_id,
                kind_label(org.get("kind")),
                place(province(org)),
                role,
                len(w.sessions_of_org[org_id]),
                offers[org_id],
                demands[org_id],
                kg(sold[org_id]),
                kg(bought[org_id]),
            )
        )
    label = Label(f"Tổng cộng ({len(rows)} đơn vị)", f"Total ({len(rows)} organizations)")
    title = Label("Đơn vị tham gia", "Participating organizations")
    return _table("organizations", title, columns, rows, label=label)


def products_table(w: World) -> Table:
    columns = [
        _col("group", "Nhóm sản phẩm OCOP", "OCOP product group"),
        _col("stars", "Hạng sao OCOP", "OCOP stars"),
        _col("offers", "Sản phẩm chào bán", "Products offered", "count"),
        _col("suppliers", "Đơn vị bán", "Suppliers", "count"),
        _col("kg", "Khối lượng chào bán (kg)", "Quantity offered (kg)", "kg"),
    ]
    buckets: dict[tuple[str | None, int], list[Doc]] = defaultdict(list)
    for offer in w.session_offers:
        buckets[_ocop(offer, w)].append(offer)
    order = _group_order()
    rows = [
        (
            group_label(group),
            stars_label(stars),
            len(offers),
            len({o.get("supplier_id") for o in offers}),
            kg(sum(float(o.get("quantity_kg") or 0) for o in offers)),
        )
        for (group, stars), offers in sorted(
            buckets.items(), key=lambda kv: (order.get(kv[0][0] or "", 99), -kv[0][1])
        )
    ]
    suppliers = len({o.get("supplier_id") for o in w.session_offers})
    title = Label(
        "Sản phẩm chào bán theo nhóm OCOP và hạng sao", "Products by OCOP group and stars"
    )
    note = Label(
        "Hạng sao còn hiệu lực vào ngày cuối của phiên (xếp hạng OCOP có giá trị 36 tháng); "
        "tổng số đơn vị bán đếm mỗi đơn vị một lần.",
        "Stars still valid on the session's last day (an OCOP rating lasts 36 months); the "
        "suppliers' total counts each supplier once.",
    )
    return _table("products", title, columns, rows, note, suppliers=suppliers)


def _group_order() -> dict[str, int]:
    from schemas.reference.taxonomy import ocop_groups

    return {g.code: i for i, g in enumerate(ocop_groups())}


def _ocop(offer: Doc, w: World) -> tuple[str | None, int]:
    """(OCOP group, stars valid on the last day of the offer's session)."""
    product = offer.get("product") or {}
    group = product.get("ocop_group") or group_of(product.get("category"))
    session = w.sessions.get(offer.get("session_id") or "") or {}
    day = _dates(session)[1]
    return group, facts.ocop_stars_on(product, day)


def meetings_table(w: World) -> Table:
    columns = [
        _col("session_id", "Phiên", "Session"),
        _col("requested", "Đề nghị gặp, chưa xếp lịch", "Requested, not scheduled", "count"),
        _col("scheduled", "Đã xếp lịch", "Scheduled", "count"),
        _col("held", "Đã gặp (có kết quả)", "Held (with an outcome)", "count"),
        _col("no_outcome", "Chưa ghi kết quả", "No outcome yet", "count"),
        _col("cancelled", "Đã hủy", "Cancelled", "count"),
    ]
    outcomes = {o["_id"]: o for o in w.docs.outcomes}
    counts: dict[str, Counter[str]] = {sid: Counter() for sid in w.sessions}
    for meeting in w.docs.meetings:
        sid, status = meeting.get("session_id"), meeting.get("status")
        if sid not in counts or status not in ("requested", "scheduled", "cancelled"):
            continue
        counts[sid][str(status)] += 1
        if status == "scheduled":
            held = facts.has_statement(outcomes.get(meeting["_id"]))
            counts[sid]["held" if held else "no_outcome"] += 1
    rows = [
        (sid, c["requested"], c["scheduled"], c["held"], c["no_outcome"], c["cancelled"])
        for sid, c in sorted(counts.items())
    ]
    title = Label("Gặp gỡ giao thương (B2B)", "B2B meetings")
    note = Label(
        "Một cuộc gặp đã xếp lịch được tính là đã diễn ra khi ít nhất một bên đã ghi kết quả.",
        "A scheduled meeting counts as held once at least one side recorded its outcome.",
    )
    return _table("meetings", title, columns, rows, note)


def deals(w: World) -> list[Deal]:
    meetings = {m["_id"]: m for m in w.docs.meetings}
    deals = []
    for outcome in w.docs.outcomes:
        if not w.in_scope(outcome):
            continue
        meeting = meetings.get(outcome["_id"]) or {}
        if meeting.get("status") == "cancelled":
            continue  # cancellation is refused once stated; an older cancelled one counts not
        deal = facts.deal_of(outcome)
        if deal is None:
            continue
        kind, agreed, volume, value = deal
        origin, category = _deal_place(w, outcome, meeting)
        deals.append(Deal(kind, agreed, volume, value, origin, category))
    return deals


def _deal_place(w: World, outcome: Doc, meeting: Doc) -> tuple[str | None, str | None]:
    """The province of origin and category of an outcome: its meeting's matched offers when
    it has any, else the supplier's province and the outcome's category."""
    category = outcome.get("category")
    for match_id in meeting.get("match_ids") or ():
        match = w.match_by_id.get(match_id)
        if match is None:
            continue
        offer = w.offers.get(match.get("offer_id") or "")
        origin = province(offer, "origin_province")
        if origin:
            return origin, category or match.get("category")
    supplier = outcome.get("supplier_id") or meeting.get("supplier_id")
    return province(w.orgs.get(supplier or "")), category


_DEAL_COLUMNS = [
    _col("mou", "Biên bản ghi nhớ (hai bên)", "MoUs (both sides)", "count"),
    _col("mou_kg", "MoU: khối lượng (kg)", "MoUs: quantity (kg)", "kg"),
    _col("mou_vnd", "MoU: giá trị (VND)", "MoUs: value (VND)", "vnd"),
    _col("contracts", "Hợp đồng (hai bên)", "Contracts (both sides)", "count"),
    _col("contract_kg", "Hợp đồng: khối lượng (kg)", "Contracts: quantity (kg)", "kg"),
    _col("contract_vnd", "Hợp đồng: giá trị (VND)", "Contracts: value (VND)", "vnd"),
    _col("claimed", "Chỉ một bên khai", "Claimed by one side", "count"),
    _col("claimed_kg", "Một bên khai: khối lượng (kg)", "Claimed: quantity (kg)", "kg"),
    _col("claimed_vnd", "Một bên khai: giá trị (VND)", "Claimed: value (VND)", "vnd"),
]


def deals_table(
    w: World,
    deals: list[Deal],
    key: str,
    first: Column,
    title: Label,
    by: Callable[[Deal], str | None],
    label: Callable[[str | None], Label],
) -> Table:
    # [count, kg, VND] for MoUs, contracts and one-sided claims; VND stays a whole number.
    buckets: dict[str | None, list[float]] = defaultdict(lambda: [0, 0.0, 0] * 3)
    for deal in deals:
        slot = 6 if not deal.agreed else (0 if deal.kind == "mou" else 3)
        bucket = buckets[by(deal)]
        bucket[slot] += 1
        bucket[slot + 1] += deal.kg
        bucket[slot + 2] += deal.vnd
    rows = []
    for name, b in sorted(buckets.items(), key=lambda kv: (-(kv[1][2] + kv[1][5]), kv[0] or "~")):
        cells: list[Cell] = [label(name)]
        for i in range(0, 9, 3):
            cells += [int(b[i]), kg(b[i + 1]), int(b[i + 2])]
        rows.append(cells)
    note = Label(
        "“Hai bên”: bên mua và bên bán khai cùng loại, khối lượng và giá trị. “Một bên khai”: "
        "chỉ một bên khai, hoặc hai bên khai khác nhau (tính một lần, theo lời khai lớn hơn).",
        "“Both sides”: buyer and supplier stated the same kind, quantity and value. “Claimed by "
        "one side”: only one side stated a deal, or the two differ (counted once, at the "
        "larger claim).",
    )
    return _table(key, title, [first, *_DEAL_COLUMNS], rows, note)


def deliveries_table(w: World) -> Table:
    columns = [
        _col("session_id", "Phiên", "Session"),
        _col("confirmed", "Lần giao hai bên xác nhận", "Deliveries confirmed by both", "count"),
        _col("confirmed_kg", "Đã giao (kg)", "Delivered (kg)", "kg"),
        _col("confirmed_vnd", "Giá trị đã giao (VND)", "Delivered value (VND)", "vnd"),
        _col("claimed", "Lần giao một bên khai", "Deliveries claimed by one side", "count"),
        _col("claimed_kg", "Một bên khai (kg)", "Claimed (kg)", "kg"),
        _col("claimed_vnd", "Một bên khai (VND)", "Claimed value (VND)", "vnd"),
    ]
    buckets: dict[str, list[float]] = {sid: [0, 0.0, 0] * 2 for sid in w.sessions}
    for delivery in w.docs.deliveries:
        sid = delivery.get("session_id")
        found = facts.delivery_of(delivery)
        if sid not in buckets or found is None:
            continue
        confirmed, volume, value = found
        slot = 0 if confirmed else 3
        buckets[sid][slot] += 1
        buckets[sid][slot + 1] += volume
        buckets[sid][slot + 2] += value
    rows = [
        (sid, int(b[0]), kg(b[1]), int(b[2]), int(b[3]), kg(b[4]), int(b[5]))
        for sid, b in sorted(buckets.items())
    ]
    title = Label("Giao hàng theo MoU và hợp đồng", "Deliveries against MoUs and contracts")
    return _table("deliveries", title, columns, rows)


def match_status_table(w: World) -> Table:
    columns = [
        _col("status", "Trạng thái", "Status"),
        _col("matches", "Số kết nối", "Matches", "count"),
        _col("kg", "Khối lượng (kg)", "Quantity (kg)", "kg"),
    ]
    counts: Counter[str] = Counter()
    kgs: defaultdict[str, float] = defaultdict(float)
    for m in w.matches:
        state = facts.match_state(m)
        counts[state] += 1
        kgs[state] += float(m.get("quantity_kg") or 0)
    rows = [(label, counts[s], kg(kgs[s])) for s, label in MATCH_STATUS.items()]
    title = Label("Kết nối cung cầu theo trạng thái", "Matches by status")
    return _table("match_status", title, columns, rows)


def confirmed_table(
    w: World,
    key: str,
    first: Column,
    title: Label,
    by: Callable[[Doc], str | None],
    label: Callable[[str | None], Label],
) -> Table:
    columns = [
        first,
        _col("matches", "Kết nối đã chốt", "Confirmed matches", "count"),
        _col("kg", "Khối lượng (kg)", "Quantity (kg)", "kg"),
        _col("value_vnd", "Giá trị (VND)", "Value (VND)", "vnd"),
    ]
    buckets: dict[str | None, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for m in confirmed_matches(w):
        bucket = buckets[by(m)]
        bucket[0] += 1
        bucket[1] += float(m.get("quantity_kg") or 0)
        bucket[2] += facts.match_value_vnd(m)
    rows = [
        (label(name), int(b[0]), kg(b[1]), int(b[2]))
        for name, b in sorted(buckets.items(), key=lambda kv: (-kv[1][2], kv[0] or "~"))
    ]
    return _table(key, title, columns, rows)


def origin_of_match(w: World) -> Callable[[Doc], str | None]:
    return lambda m: province(w.offers.get(m.get("offer_id") or ""), "origin_province")


def unmet_rows(w: World) -> list[tuple[Doc, facts.OrderFigures]]:
    by_demand: dict[str, list[Doc]] = defaultdict(list)
    for m in w.docs.matches:
        by_demand[str(m.get("demand_id"))].append(m)
    out = []
    for d in w.session_demands:
        f = facts.order_figures(d, by_demand.get(d["_id"], []))
        if f.open_kg > 0:
            out.append((d, f))
    out.sort(key=lambda pair: (-pair[1].open_kg, pair[0]["_id"]))
    return out


def unmet_table(w: World, unmet: list[tuple[Doc, facts.OrderFigures]]) -> Table:
    columns = [
        _col("buyer", "Bên mua", "Buyer"),
        _col("demand_id", "Mã nhu cầu", "Demand id"),
        _col("category", "Ngành hàng", "Category"),
        _col("delivery", "Giao đến", "Delivery to"),
        _col("quantity_kg", "Cần (kg)", "Wanted (kg)", "kg"),
        _col("matched_kg", "Đã ghép (kg)", "Matched (kg)", "kg"),
        _col("open_kg", "Còn thiếu (kg)", "Still open (kg)", "kg"),
        _col("reason", "Lý do chưa ghép được", "Why it is still open"),
    ]
    rows = []
    for d, f in unmet[:TOP_UNMET]:
        criteria = d.get("criteria") or {}
        rows.append(
            (
                w.org_name(d.get("buyer_id")),
                d["_id"],
                category_label(criteria.get("category")),
                place(province(d, "delivery_province")),
                kg(float(d.get("quantity_kg") or 0)),
                kg(f.reserved_kg + f.confirmed_kg),
                kg(f.open_kg),
                reason_label(d.get("unmatched_reason"), f.reserved_kg > 0),
            )
        )
    shown, total = len(rows), len(unmet)
    open_kg = kg(sum(f.open_kg for _, f in unmet))
    vi_kg, en_kg = f"{open_kg:,.0f}".replace(",", "."), f"{open_kg:,.0f}"
    if total == 0:
        note = Label("Mọi nhu cầu đã được đáp ứng đủ.", "Every demand is fully met.")
    elif shown == total:
        note = Label(
            f"Cả {total} nhu cầu chưa được đáp ứng đủ (tổng còn thiếu {vi_kg} kg).",
            f"All {total} demands not fully met ({en_kg} kg open in all).",
        )
    else:
        note = Label(
            f"{shown} nhu cầu lớn nhất trong {total} nhu cầu chưa được đáp ứng đủ "
            f"(tổng còn thiếu {vi_kg} kg).",
            f"The {shown} largest of {total} demands not fully met ({en_kg} kg open in all).",
        )
    title = Label("Nhu cầu chưa được đáp ứng lớn nhất", "Largest unmet demands")
    return _table("unmet_demands", title, columns, rows, note)
