"""The Department's report from hand-made documents: every total equals a recount written here,
independently of the report's code, and the figures a person would compute by hand."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.reports.labels import Label
from services.reports.model import Documents, Report, Scope, build

NOW = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
PLACES = {
    "hai-phong": "Hải Phòng",
    "quang-ngai": "Quảng Ngãi",
    "son-la": "Sơn La",
    "ha-noi": "Hà Nội",
    "nghe-an": "Nghệ An",
}


def place(code: str) -> dict[str, Any]:
    return {"code": code, "name": PLACES[code], "legacy_name": None}


def session(sid: str, start: str, end: str, status: str = "closed") -> dict[str, Any]:
    return {"_id": sid, "organizer_id": "so-ct-hp", "name": f"Phiên {sid}",
            "host_province": place("hai-phong"), "dates": {"start": start, "end": end},
            "status": status}  # fmt: skip


def org(oid: str, kind: str, province: str, name: str | None = None) -> dict[str, Any]:
    return {"_id": oid, "name": name or f"Đơn vị {oid}", "kind": kind, "province": place(province)}


def joined(sid: str, oid: str, party: str) -> dict[str, Any]:
    return {"_id": f"p-{sid}-{oid}", "session_id": sid, "org_id": oid, "party": party}


def offer(oid: str, sid: str | None, supplier: str, origin: str, category: str, kg: float,
          stars: int = 0, rated: str | None = None, status: str = "open") -> dict:  # fmt: skip
    product = {"name": f"SP {oid}", "category": category, "ocop_stars": stars,
               "ocop_rated_on": rated}  # fmt: skip
    return {"_id": oid, "session_id": sid, "supplier_id": supplier, "product": product,
            "origin_province": place(origin), "quantity_kg": kg, "status": status}  # fmt: skip


def demand(did: str, sid: str | None, buyer: str, category: str, kg: float,
           reason: str | None = None, status: str = "open") -> dict[str, Any]:  # fmt: skip
    return {"_id": did, "session_id": sid, "buyer_id": buyer, "criteria": {"category": category},
            "quantity_kg": kg, "delivery_province": place("hai-phong"), "status": status,
            "unmatched_reason": reason}  # fmt: skip


def match(mid: str, o: dict, d: dict, kg: float, price: int, status: str = "proposed",
          unit: str = "kg", **decisions: str) -> dict[str, Any]:  # fmt: skip
    return {"_id": mid, "offer_id": o["_id"], "demand_id": d["_id"],
            "supplier_id": o["supplier_id"], "buyer_id": d["buyer_id"],
            "category": o["product"]["category"], "quantity_kg": kg, "unit_price_vnd": price,
            "price_unit": unit, "status": status, "session_id": d["session_id"],
            **decisions}  # fmt: skip


def statement(kind: str, kg: float | None = None, vnd: int | None = None) -> dict[str, Any]:
    return {"kind": kind, "volume_kg": kg, "value_vnd": vnd, "stated_at": "2026-03-02T10:00:00Z"}


def outcome(mid: str, sid: str, buyer_id: str, supplier_id: str, agreed: dict | None = None,
            category: str | None = None, **statements: dict) -> dict[str, Any]:  # fmt: skip
    return {"_id": mid, "session_id": sid, "buyer_id": buyer_id, "supplier_id": supplier_id,
            "category": category, "statements": statements, "agreed": agreed,
            "claimed_by": [p for p in statements if agreed is None]}  # fmt: skip


# Sessions: s1 (March) and s2 (May) are the report's; s3 is another session's data.
S1 = session("s1", "2026-03-01", "2026-03-02")
S2 = session("s2", "2026-05-10", "2026-05-10", status="open")
ORGS = [
    org("htx-sam", "cooperative", "quang-ngai", "HTX Sâm Ngọc Linh"),
    org("htx-ca-phe", "cooperative", "quang-ngai", "HTX Cà phê Kon Tum"),
    org("htx-man", "cooperative", "son-la", "HTX Mận Sơn La"),
    org("dn-hai-phong", "enterprise", "hai-phong", "Công ty Hải Phòng"),  # buys and sells
    org("st-hp", "supermarket-chain", "hai-phong", "Siêu thị HP"),
    org("cho-ha-noi", "wholesale-market", "ha-noi", "Chợ đầu mối Hà Nội"),
    org("htx-cam", "cooperative", "nghe-an", "HTX Cam Vinh"),  # only in s3
]
PARTICIPANTS = [
    joined("s1", "htx-sam", "supplier"),
    joined("s1", "htx-ca-phe", "supplier"),
    joined("s1", "dn-hai-phong", "supplier"),
    joined("s1", "st-hp", "buyer"),
    joined("s2", "dn-hai-phong", "buyer"),  # one party per session, another in the next
    joined("s2", "htx-man", "supplier"),
    joined("s2", "htx-sam", "supplier"),  # in both sessions: one organization
    joined("s2", "cho-ha-noi", "buyer"),
    joined("s3", "htx-cam", "supplier"),
]
O_SAM = offer("o-sam", "s1", "htx-sam", "quang-ngai", "ginseng", 500, 4, "2025-01-10")
O_CAFE = offer("o-cafe", "s1", "htx-ca-phe", "quang-ngai", "coffee", 20_000, 3, "2022-05-01")
O_HP = offer("o-hp", "s1", "dn-hai-phong", "hai-phong", "coffee", 3_000, status="withdrawn")
O_MAN = offer("o-man", "s2", "htx-man", "son-la", "fresh-fruit", 8_000, 5, "2025-06-01")
O_MARKET = offer("o-market", None, "htx-cam", "nghe-an", "fresh-fruit", 9_000)  # no session
O_S3 = offer("o-s3", "s3", "htx-cam", "nghe-an", "fresh-fruit", 1_000)
D_ST = demand("d-st", "s1", "st-hp", "coffee", 15_000)
D_DN = demand("d-dn", "s2", "dn-hai-phong", "ginseng", 200, status="cancelled")
D_CHO = demand("d-cho", "s2", "cho-ha-noi", "fresh-fruit", 20_000,
               reason="price: 3 of 4 open offers ask more than the ceiling")  # fmt: skip
D_CHO2 = demand("d-cho2", "s2", "cho-ha-noi", "coffee", 4_000,
                reason="no open offer in this market")  # fmt: skip
D_S3 = demand("d-s3", "s3", "st-hp", "fresh-fruit", 1_000)
MATCHES = [
    match("m1", O_CAFE, D_ST, 8_000, 95_000, "confirmed"),
    match("m2", O_HP, D_ST, 3_000, 90_000, "proposed", buyer_decision="accepted"),
    match("m3", O_CAFE, D_ST, 1_000, 95_000, "released", buyer_decision="declined"),
    match("m4", O_MAN, D_CHO, 6_000, 3_500_000, "confirmed", unit="ta"),  # 35,000 VND/kg
    match("m5", O_MARKET, D_CHO, 9_000, 30_000, "confirmed"),  # an outside offer, s2's demand
    match("m6", O_CAFE, D_CHO2, 2_000, 95_000, "expired"),
    match("m7", O_S3, D_S3, 1_000, 10_000, "confirmed"),  # s3's: not in the report
    match("m8", O_SAM, {"_id": "d-market", "buyer_id": "x", "session_id": None}, 100, 2_000_000,
          "confirmed"),  # a market demand took s1's offer: s1's match (the offer's session)
]  # fmt: skip
MEETINGS = [
    {"_id": "mt1", "session_id": "s1", "buyer_id": "st-hp", "supplier_id": "htx-ca-phe",
     "status": "scheduled", "match_ids": ["m1"]},
    {"_id": "mt2", "session_id": "s1", "buyer_id": "st-hp", "supplier_id": "htx-sam",
     "status": "scheduled", "match_ids": []},
    {"_id": "mt3", "session_id": "s1", "buyer_id": "dn-hai-phong", "supplier_id": "htx-sam",
     "status": "cancelled", "match_ids": []},
    {"_id": "mt4", "session_id": "s1", "buyer_id": "dn-hai-phong", "supplier_id": "htx-ca-phe",
     "status": "scheduled", "match_ids": []},  # no outcome yet
    {"_id": "mt5", "session_id": "s2", "buyer_id": "cho-ha-noi", "supplier_id": "htx-man",
     "status": "scheduled", "match_ids": ["m4"]},
    {"_id": "mt6", "session_id": "s2", "buyer_id": "cho-ha-noi", "supplier_id": "htx-sam",
     "status": "scheduled", "match_ids": []},
    {"_id": "mt8", "session_id": "s1", "buyer_id": "st-hp", "supplier_id": "dn-hai-phong",
     "status": "requested", "match_ids": []},  # asked for, never placed
    {"_id": "mt7", "session_id": "s3", "buyer_id": "st-hp", "supplier_id": "htx-cam",
     "status": "scheduled", "match_ids": ["m7"]},
]  # fmt: skip
CONTRACT = statement("contract", 8_000, 760_000_000)
OUTCOMES = [
    outcome("mt1", "s1", "st-hp", "htx-ca-phe", agreed=CONTRACT, category="coffee",
            buyer=CONTRACT, supplier=CONTRACT),
    outcome("mt2", "s1", "st-hp", "htx-sam", supplier=statement("mou", 300, 600_000_000)),
    outcome("mt5", "s2", "cho-ha-noi", "htx-man", agreed=statement("mou", 10_000, 350_000_000),
            buyer=statement("mou", 10_000, 350_000_000),
            supplier=statement("mou", 10_000, 350_000_000)),
    outcome("mt6", "s2", "cho-ha-noi", "htx-sam", category="ginseng",
            buyer=statement("mou", 50, 100_000_000),
            supplier=statement("contract", 80, 150_000_000)),  # they disagree
    outcome("mt7", "s3", "st-hp", "htx-cam", agreed=statement("no_deal"),
            buyer=statement("no_deal"), supplier=statement("no_deal")),
]  # fmt: skip
DELIVERIES = [
    {"_id": "dl1", "meeting_id": "mt1", "session_id": "s1", "delivered_on": "2026-04-01",
     "statements": {"buyer": {"delivered_on": "2026-04-01", "quantity_kg": 4_000,
                              "value_vnd": 380_000_000},
                    "supplier": {"delivered_on": "2026-04-01", "quantity_kg": 4_000,
                                 "value_vnd": 380_000_000}}},
    {"_id": "dl2", "meeting_id": "mt1", "session_id": "s1", "delivered_on": "2026-05-01",
     "statements": {"supplier": {"delivered_on": "2026-05-01", "quantity_kg": 2_000,
                                 "value_vnd": 190_000_000}}},
]  # fmt: skip
DOCS = Documents(
    sessions=[S1, S2],
    participants=PARTICIPANTS,
    organizations=ORGS,
    offers=[O_SAM, O_CAFE, O_HP, O_MAN, O_MARKET, O_S3],
    demands=[D_ST, D_DN, D_CHO, D_CHO2, D_S3],
    matches=MATCHES,
    meetings=MEETINGS,
    outcomes=OUTCOMES,
    deliveries=DELIVERIES,
)


@pytest.fixture(scope="module")
def report() -> Report:
    return build(DOCS, Scope("period", start=date(2026, 1, 1), end=date(2026, 6, 30)), NOW)


def _text(cell: Any) -> Any:
    return cell.vi if isinstance(cell, Label) else cell


def _rows(report: Report, key: str) -> dict[Any, dict[str, Any]]:
    """A table's rows by their first cell (Vietnamese), as {column: value}."""
    table = report.table(key)
    keys = [c.key for c in table.columns]
    return {_text(row[0]): dict(zip(keys, map(_text, row), strict=True)) for row in table.rows}


# -- the recount: plain loops over the documents, the report's definitions in words ----------

IN = {"s1", "s2"}
DEMANDS = {d["_id"]: d for d in DOCS.demands}
OFFERS = {o["_id"]: o for o in DOCS.offers}


def _session(m: dict) -> str | None:
    d = DEMANDS.get(m["demand_id"])
    if d and d["session_id"]:
        return d["session_id"]
    o = OFFERS.get(m["offer_id"])
    return o["session_id"] if o else None


OURS = [m for m in MATCHES if _session(m) in IN]
CONFIRMED = [m for m in OURS if m["status"] == "confirmed"]
PER_KG = {"kg": 1, "ta": 100, "tan": 1000}


def _value(m: dict) -> int:
    return round(m["quantity_kg"] * m["unit_price_vnd"] / PER_KG[m["price_unit"]])


def test_the_recount_is_what_a_person_counts_by_hand():
    """The recount itself, checked against numbers worked out on paper."""
    assert sorted(m["_id"] for m in CONFIRMED) == ["m1", "m4", "m5", "m8"]
    assert sum(m["quantity_kg"] for m in CONFIRMED) == 8_000 + 6_000 + 9_000 + 100
    assert [_value(m) for m in CONFIRMED] == [760_000_000, 210_000_000, 270_000_000, 200_000_000]


def test_headline_figures(report):
    assert report.session_ids == ("s1", "s2")
    expected = {
        "sessions": 2,
        "provinces": 3,  # Quảng Ngãi, Hải Phòng, Sơn La, Hà Nội: but see below
        "organizations": 6,
        "buyers": 3,
        "suppliers": 4,
        "offers": 4,  # o-sam, o-cafe, o-hp (withdrawn later, still offered), o-man
        "demands": 4,
        "meetings_held": 4,  # mt1, mt2, mt5, mt6 (mt4 has no outcome, mt3 was cancelled)
        "mous": 1,
        "mou_vnd": 350_000_000,
        "contracts": 1,
        "contract_kg": 8_000.0,
        "contract_vnd": 760_000_000,
        "claimed": 2,  # mt2 (the supplier alone), mt6 (they disagree)
        "confirmed_matches": 4,
        "confirmed_kg": 23_100.0,
        "confirmed_vnd": 1_440_000_000,
        "unmet_demands": 3,
        "unmet_kg": 15_000 - 8_000 - 3_000 + 20_000 - 15_000 + 4_000,
    }
    expected["provinces"] = len({o["province"]["code"] for o in ORGS if o["_id"] != "htx-cam"})
    assert expected["provinces"] == 4
    assert {f.key: f.value for f in report.headline} == expected


def test_every_numeric_total_is_its_column_sum_or_a_stated_distinct_count(report):
    assert report.table("products").distinct == {"suppliers"}
    for table in report.tables:
        assert _text(table.totals[0]).startswith("Tổng cộng"), table.key
        for i, column in enumerate(table.columns):
            if column.kind not in ("count", "kg", "vnd") or column.key in table.distinct:
                continue
            column_sum = sum(row[i] for row in table.rows)
            assert table.totals[i] == pytest.approx(column_sum), (table.key, column.key)


def test_sessions_rows_are_the_sessions_own_figures(report):
    rows = _rows(report, "sessions")
    s1 = {k: rows["s1"][k] for k in ("buyers", "suppliers", "offers", "demands", "confirmed",
                                     "confirmed_kg", "value_vnd", "status", "start")}  # fmt: skip
    # s1: o-hp was withdrawn but was offered there; m8 is s1's through its offer.
    assert s1 == {"buyers": 1, "suppliers": 3, "offers": 3, "demands": 1, "confirmed": 2,
                  "confirmed_kg": 8_100.0, "value_vnd": 960_000_000, "status": "Đã đóng",
                  "start": "2026-03-01"}  # fmt: skip
    assert (rows["s2"]["demands"], rows["s2"]["confirmed_kg"]) == (3, 15_000.0)


def test_provinces_and_organizations(report):
    provinces = _rows(report, "provinces")
    assert provinces == {
        "Quảng Ngãi": {"province": "Quảng Ngãi", "buyers": 0, "suppliers": 2, "organizations": 2},
        "Hải Phòng": {"province": "Hải Phòng", "buyers": 2, "suppliers": 1, "organizations": 2},
        "Sơn La": {"province": "Sơn La", "buyers": 0, "suppliers": 1, "organizations": 1},
        "Hà Nội": {"province": "Hà Nội", "buyers": 1, "suppliers": 0, "organizations": 1},
    }
    table = report.table("provinces")
    assert table.total("organizations") == len({p["org_id"] for p in PARTICIPANTS
                                                if p["session_id"] in IN})  # fmt: skip
    orgs = _rows(report, "organizations")
    assert orgs["HTX Sâm Ngọc Linh"]["sessions"] == 2
    assert orgs["Công ty Hải Phòng"]["role"] == "Bên mua, Bên bán"
    sold = defaultdict(float)
    bought = defaultdict(float)
    for m in CONFIRMED:
        sold[m["supplier_id"]] += m["quantity_kg"]
        bought[m["buyer_id"]] += m["quantity_kg"]
    for row in orgs.values():
        assert row["sold_kg"] == sold[row["org_id"]] and row["bought_kg"] == bought[row["org_id"]]
    totals = report.table("organizations")
    assert _text(totals.totals[0]) == "Tổng cộng (6 đơn vị)"
    # htx-cam sold 9 t to a session buyer without taking part: the sold total is smaller.
    assert totals.total("bought_kg") == 23_000.0 and totals.total("sold_kg") == 14_100.0


def test_products_by_ocop_group_and_stars_valid_on_the_sessions_last_day(report):
    rows = {(_text(r[0]), _text(r[1])): r[2:] for r in report.table("products").rows}
    assert rows == {
        ("Thực phẩm", "5 sao"): (1, 1, 8_000.0),  # mận: rated 2025-06
        # the coffee's 3 stars of 2022-05-01 lapsed on 2025-05-01
        ("Thực phẩm", "Chưa xếp hạng"): (2, 2, 23_000.0),
        ("Thảo dược", "4 sao"): (1, 1, 500.0),
    }
    table = report.table("products")
    assert table.total("suppliers") == 4  # each supplier once, not the column's sum
    assert table.total("offers") == 4 and table.total("kg") == 31_500.0


def test_meetings_deals_and_deliveries(report):
    meetings = _rows(report, "meetings")
    assert meetings["s1"] == {"session_id": "s1", "requested": 1, "scheduled": 3, "held": 2,
                              "no_outcome": 1, "cancelled": 1}  # fmt: skip
    assert meetings["s2"]["held"] == 2
    by_origin = _rows(report, "deals_by_origin")
    # mt1: contract from m1's offer (Quảng Ngãi); mt2: the supplier's province (Quảng Ngãi);
    # mt5: m4's offer (Sơn La); mt6: htx-sam's province, at the larger claim (80 kg, 150 M).
    qn = by_origin["Quảng Ngãi"]
    assert (qn["contracts"], qn["contract_kg"], qn["contract_vnd"]) == (1, 8_000.0, 760_000_000)
    assert (qn["claimed"], qn["claimed_kg"], qn["claimed_vnd"]) == (2, 380.0, 750_000_000)
    assert (by_origin["Sơn La"]["mou"], by_origin["Sơn La"]["mou_vnd"]) == (1, 350_000_000)
    by_category = _rows(report, "deals_by_category")
    assert by_category["Cà phê"]["contracts"] == 1
    assert by_category["Trái cây tươi"]["mou"] == 1  # from m4's category
    assert by_category["(không rõ)"]["claimed"] == 1  # mt2 named none
    totals = report.table("deals_by_category")
    assert totals.total("claimed_vnd") == 600_000_000 + 150_000_000
    deliveries = _rows(report, "deliveries")["s1"]
    assert (deliveries["confirmed"], deliveries["confirmed_kg"]) == (1, 4_000.0)
    assert (deliveries["claimed"], deliveries["claimed_vnd"]) == (1, 190_000_000)


def test_confirmed_matches_by_origin_and_category_equal_the_recount(report):
    by_origin: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    by_category: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    names = {"coffee": "Cà phê", "fresh-fruit": "Trái cây tươi", "ginseng": "Sâm"}
    for m in CONFIRMED:
        for bucket in (by_origin[OFFERS[m["offer_id"]]["origin_province"]["name"]],
                       by_category[names[m["category"]]]):  # fmt: skip
            bucket[0] += 1
            bucket[1] += m["quantity_kg"]
            bucket[2] += _value(m)
    for key, recount in (("confirmed_by_origin", by_origin),
                         ("confirmed_by_category", by_category)):  # fmt: skip
        rows = {k: [v["matches"], v["kg"], v["value_vnd"]] for k, v in _rows(report, key).items()}
        assert rows == dict(recount), key
        table = report.table(key)
        assert table.total("value_vnd") == sum(_value(m) for m in CONFIRMED)
    status = _rows(report, "match_status")
    assert status["Đã chốt"]["matches"] == 4
    assert status["Một bên đồng ý"]["kg"] == 3_000.0  # m2
    assert status["Bị từ chối"]["matches"] == 1 and status["Hết hạn"]["matches"] == 1
    assert report.table("match_status").total("matches") == len(OURS)


def test_unmet_demands_largest_open_first_with_their_current_reason(report):
    table = report.table("unmet_demands")
    assert [row[1] for row in table.rows] == ["d-cho", "d-cho2", "d-st"]
    rows = {row[1]: row for row in table.rows}
    assert rows["d-cho"][table.column("open_kg")] == 5_000.0
    assert rows["d-st"][table.column("open_kg")] == 4_000.0  # 15 t - 8 t confirmed - 3 t reserved
    reason = rows["d-cho"][table.column("reason")]
    assert reason.vi == "Giá chào cao hơn giá trần người mua (3/4 chào bán)"
    assert rows["d-st"][table.column("reason")].en == "The rest awaits both sides"
    assert rows["d-cho2"][table.column("reason")].en == "No offer in this category yet"
    assert table.total("open_kg") == 13_000.0  # the cancelled demand is not unmet
    assert table.note.vi == "Cả 3 nhu cầu chưa được đáp ứng đủ (tổng còn thiếu 13.000 kg)."


def test_a_session_report_holds_only_that_session(report):
    one = build(_only(S2), Scope("session", session_id="s2"), NOW)
    assert one.session_ids == ("s2",)
    assert one.title.vi.endswith("Phiên s2")
    assert one.figure("confirmed_matches") == 2  # m4 and m5
    assert one.figure("organizations") == 4
    assert one.figure("meetings_held") == 2


def _only(s: dict) -> Documents:
    fields = {name: getattr(DOCS, name) for name in DOCS.__dataclass_fields__}
    return Documents(**{**fields, "sessions": [s]})


def test_json_is_in_the_language_asked_and_rows_are_keyed(report):
    vi, en = report.as_json("vi"), report.as_json("en")
    assert vi["from"] == "2026-01-01" and vi["to"] == "2026-06-30"
    sessions = next(t for t in en["tables"] if t["key"] == "sessions")
    assert sessions["title"] == "Sessions" and sessions["rows"][0]["status"] == "Closed"
    assert sessions["totals"]["session_id"] == "Total"
    assert next(t for t in vi["tables"] if t["key"] == "sessions")["totals"]["offers"] == 4


def test_the_report_core_loads_no_infrastructure_client():
    """model, facts, xlsx and html are pure: documents in, bytes or text out."""
    forbidden = ("faust", "aiokafka", "kafka", "pymongo", "motor", "httpx", "fastapi")
    code = (
        "import sys\n"
        "import services.reports.model, services.reports.xlsx, services.reports.html\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r}))\n"
        "print('services.common.figures' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]


def test_only_the_largest_unmet_demands_are_listed_and_the_note_counts_them_all():
    many = [demand(f"d{i:02}", "s1", "st-hp", "tea", 100.0 * (i + 1)) for i in range(25)]
    report = build(Documents(sessions=[S1], demands=many, organizations=ORGS),
                   Scope("session", session_id="s1"), NOW)  # fmt: skip
    table = report.table("unmet_demands")
    assert [row[1] for row in table.rows] == [f"d{i:02}" for i in range(24, 4, -1)]
    assert table.total("open_kg") == sum(100.0 * (i + 1) for i in range(5, 25))
    assert report.figure("unmet_demands") == 25
    assert report.figure("unmet_kg") == sum(100.0 * (i + 1) for i in range(25))
    assert table.note.en.startswith("The 20 largest of 25 demands not fully met (32,500 kg")
