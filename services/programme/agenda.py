"""Printable agendas of a session's B2B meetings: one per participant, one per table.

Pure rendering from plain data (``AgendaSession``, ``AgendaMeeting``, ``Org``) to one HTML page,
Vietnamese by default and English with ``lang="en"`` (any other value: Vietnamese).
Self-contained (no script, font, image or stylesheet from anywhere), so a saved page prints the
same offline on A4; its stylesheet is a ``<style>`` block that the gateway allows by its hash
(``policy()``), as the reports do. Every string that came from a user (names, provinces,
topics, ids) is escaped.

Times are shown in Vietnam's time (UTC+7, no daylight saving) when they carry a zone; naive
times are shown as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from schemas.fields import VIETNAM
from services.common.printable import style_policy

LANGS = ("vi", "en")


@dataclass(frozen=True, slots=True)
class Org:
    org_id: str
    name: str
    province: str = ""
    """The province's display name (current unit), as the caller resolved it."""


@dataclass(frozen=True, slots=True)
class AgendaMeeting:
    slot: int
    """Index into ``AgendaSession.slots``, from 0."""
    table: int
    """Table number, from 1."""
    buyer: Org
    supplier: Org
    topics: tuple[str, ...] = ()
    """What the meeting is about: products or matches concerned, one line each."""
    status: str = "scheduled"
    """"scheduled" or "cancelled" (a cancelled meeting shows on its participants' pages)."""


@dataclass(frozen=True, slots=True)
class AgendaSession:
    session_id: str
    title: str
    slots: tuple[tuple[datetime, datetime], ...]
    """(start, end) of every slot, in order."""
    tables: int
    venue: str = ""


_WORDS: dict[str, tuple[str, str]] = {
    "agenda_of": ("Lịch gặp B2B", "B2B meeting agenda"),
    "table_agenda": ("Lịch gặp tại bàn", "Meetings at table"),
    "session": ("Phiên", "Session"),
    "venue": ("Địa điểm", "Venue"),
    "province": ("Tỉnh/thành", "Province"),
    "role": ("Vai trò", "Role"),
    "buyer": ("Bên mua", "Buyer"),
    "supplier": ("Nhà cung cấp", "Supplier"),
    "time": ("Thời gian", "Time"),
    "table": ("Bàn", "Table"),
    "with": ("Gặp", "Meeting with"),
    "topics": ("Sản phẩm / kết nối", "Products / matches"),
    "status": ("Trạng thái", "Status"),
    "free": ("Trống", "Free"),
    "cancelled": ("Đã hủy", "Cancelled"),
    "none": ("Chưa có cuộc gặp nào được xếp lịch.", "No meeting is scheduled yet."),
    "meetings": ("cuộc gặp", "meeting(s)"),
    "switch": ("English", "Tiếng Việt"),
    "print": (
        "In trang này bằng lệnh In của trình duyệt (Ctrl+P), khổ A4.",
        "Print this page with the browser's Print command (Ctrl+P), A4.",
    ),
    "footer": (
        "Lịch do Ketnoi xếp: mỗi bên một cuộc gặp mỗi khung giờ, theo thời gian rảnh đã khai.",
        "Scheduled by Ketnoi: one meeting per party per time slot, within stated availability.",
    ),
}
_WEEKDAYS = (
    ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
)

STYLE = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
html { font-family: "Noto Sans", "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt;
       color: #111; background: #fff; }
body { margin: 0 auto; max-width: 200mm; padding: 6mm 0; }
header { border-bottom: 2px solid #1f4e79; margin-bottom: 5mm; padding-bottom: 2mm; }
h1 { font-size: 16pt; margin: 0 0 1.5mm; color: #1f4e79; }
h2 { font-size: 12pt; margin: 5mm 0 2mm; color: #1f4e79; break-after: avoid; }
p.meta { margin: 0.5mm 0; color: #333; }
nav.lang { float: right; font-size: 9pt; }
p.hint { font-size: 8.5pt; color: #555; margin: 1mm 0 0; }
table { width: 100%; border-collapse: collapse; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { border: 1px solid #b7c4d1; padding: 1.5mm 2mm; vertical-align: top; text-align: left;
         overflow-wrap: anywhere; }
th { background: #ddebf7; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; width: 24mm; }
td.table { text-align: center; width: 12mm; font-weight: bold; }
th.table { white-space: nowrap; }
td .province { color: #444; font-size: 9pt; }
ul.topics { margin: 0; padding-left: 4mm; }
tr.cancelled td { color: #777; text-decoration: line-through; }
tr.cancelled td.status { text-decoration: none; }
tr.free td { color: #777; }
p.empty { color: #555; font-style: italic; }
section.sheet { break-after: page; }
section.sheet:last-of-type { break-after: auto; }
footer { margin-top: 8mm; font-size: 8pt; color: #666; border-top: 1px solid #ccc; }
@media print { nav.lang, p.hint { display: none; } body { padding: 0; max-width: none; } }
""".strip()


def participant_agenda(
    session: AgendaSession,
    who: Org,
    meetings: Iterable[AgendaMeeting],
    lang: str = "vi",
    switch_href: str | None = None,
) -> str:
    """One participant's meetings in time order: time, table, the other party (name, province,
    role), what the meeting is about; cancelled ones struck through. ``meetings`` may hold
    other participants' meetings: only ``who``'s are shown."""
    lang = _lang(lang)
    w = _words(lang)
    own = sorted(
        (m for m in meetings if who.org_id in (m.buyer.org_id, m.supplier.org_id)),
        key=lambda m: (m.slot, m.status != "scheduled", m.table),
    )
    role = _role_of(who, own, w)
    rows = []
    for m in own:
        other, other_role = (
            (m.supplier, w["supplier"]) if m.buyer.org_id == who.org_id else (m.buyer, w["buyer"])
        )
        cancelled = m.status == "cancelled"
        row_class = ' class="cancelled"' if cancelled else ""
        rows.append(
            f"<tr{row_class}>"
            f'<td class="time">{_when(session, m.slot, lang)}</td>'
            f'<td class="table">{m.table}</td>'
            f'<td>{_org(other)}<br><span class="province">{escape(other_role)}</span></td>'
            f"<td>{_topics(m.topics)}</td>"
            f'<td class="status">{escape(w["cancelled"]) if cancelled else ""}</td></tr>'
        )
    scheduled = sum(1 for m in own if m.status == "scheduled")
    meta = [
        f"{w['session']}: {escape(session.title)}",
        *([f"{w['venue']}: {escape(session.venue)}"] if session.venue else []),
        *([f"{w['province']}: {escape(who.province)}"] if who.province else []),
        *([f"{w['role']}: {escape(role)}"] if role else []),
        f"{scheduled} {w['meetings']}",
    ]
    head = (
        f'<tr><th>{w["time"]}</th><th class="table">{w["table"]}</th><th>{w["with"]}</th>'
        f"<th>{w['topics']}</th><th>{w['status']}</th></tr>"
    )
    body = (
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else f'<p class="empty">{w["none"]}</p>'
    )
    title = f"{w['agenda_of']}: {escape(who.name)}"
    return _page(lang, title, title, meta, body, switch_href)


def table_agenda(
    session: AgendaSession,
    table: int,
    meetings: Iterable[AgendaMeeting],
    lang: str = "vi",
    switch_href: str | None = None,
) -> str:
    """Every slot of one table: who meets whom there (buyer, supplier, topics), or free."""
    lang = _lang(lang)
    w = _words(lang)
    title = f"{w['table_agenda']} {table}"
    meta = [
        f"{w['session']}: {escape(session.title)}",
        *([f"{w['venue']}: {escape(session.venue)}"] if session.venue else []),
    ]
    sheet = _table_sheet(session, table, meetings, lang)
    return _page(lang, title, title, meta, sheet, switch_href)


def tables_agenda(
    session: AgendaSession,
    meetings: Iterable[AgendaMeeting],
    lang: str = "vi",
    switch_href: str | None = None,
) -> str:
    """Every table's agenda in one document, one printed page per table (for the organizer)."""
    lang = _lang(lang)
    w = _words(lang)
    kept = list(meetings)
    sheets = "".join(
        f'<section class="sheet"><h2>{w["table"]} {table}</h2>'
        + _table_sheet(session, table, kept, lang)
        + "</section>"
        for table in range(1, session.tables + 1)
    )
    title = f"{w['table_agenda']}: {escape(session.title)}"
    meta = [*([f"{w['venue']}: {escape(session.venue)}"] if session.venue else [])]
    return _page(lang, title, title, meta, sheets, switch_href)


def policy() -> str:
    """The Content-Security-Policy of these pages: their own style block, nothing else."""
    return style_policy(STYLE)


# -- parts ----------------------------------------------------------------------------------


def _lang(lang: str) -> str:
    """English when asked for, else Vietnamese (as the reports do)."""
    return "en" if lang == "en" else "vi"


def _words(lang: str) -> dict[str, str]:
    index = LANGS.index(lang)
    return {key: pair[index] for key, pair in _WORDS.items()}


def _table_sheet(
    session: AgendaSession, table: int, meetings: Iterable[AgendaMeeting], lang: str
) -> str:
    w = _words(lang)
    at = {m.slot: m for m in meetings if m.table == table and m.status == "scheduled"}
    rows = []
    for slot in range(len(session.slots)):
        m = at.get(slot)
        when = f'<td class="time">{_when(session, slot, lang)}</td>'
        if m is None:
            rows.append(f'<tr class="free">{when}<td colspan="3">{w["free"]}</td></tr>')
            continue
        rows.append(
            f"<tr>{when}<td>{_org(m.buyer)}</td><td>{_org(m.supplier)}</td>"
            f"<td>{_topics(m.topics)}</td></tr>"
        )
    head = (
        f"<tr><th>{w['time']}</th><th>{w['buyer']}</th><th>{w['supplier']}</th>"
        f"<th>{w['topics']}</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _page(
    lang: str, title: str, heading: str, meta: Sequence[str], body: str, switch: str | None
) -> str:
    """The document around ``body``; ``title``, ``heading`` and ``meta`` are escaped already."""
    w = _words(lang)
    nav = f'<nav class="lang"><a href="{escape(switch)}">{w["switch"]}</a></nav>' if switch else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<header>{nav}<h1>{heading}</h1>"
        + "".join(f'<p class="meta">{line}</p>' for line in meta)
        + f'<p class="hint">{w["print"]}</p></header><main>{body}</main>'
        + f"<footer><p>{w['footer']}</p></footer></body></html>"
    )


def _role_of(who: Org, meetings: Sequence[AgendaMeeting], w: dict[str, str]) -> str:
    if any(m.buyer.org_id == who.org_id for m in meetings):
        return w["buyer"]
    if meetings:
        return w["supplier"]
    return ""


def _org(org: Org) -> str:
    province = f'<br><span class="province">{escape(org.province)}</span>' if org.province else ""
    return f"<strong>{escape(org.name)}</strong>{province}"


def _topics(topics: Sequence[str]) -> str:
    if not topics:
        return ""
    return '<ul class="topics">' + "".join(f"<li>{escape(t)}</li>" for t in topics) + "</ul>"


def _local(moment: datetime) -> datetime:
    return moment.astimezone(VIETNAM) if moment.tzinfo is not None else moment


def _when(session: AgendaSession, slot: int, lang: str) -> str:
    """'Thứ Hai 14/07/2025<br>08:00–08:20' (English: 'Monday 14/07/2025')."""
    if not 0 <= slot < len(session.slots):
        return f"#{slot + 1}"
    start, end = (_local(t) for t in session.slots[slot])
    day = _WEEKDAYS[LANGS.index(lang)][start.weekday()]
    return f"{day} {start:%d/%m/%Y}<br>{start:%H:%M}–{end:%H:%M}"
