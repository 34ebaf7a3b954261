"""Printable agendas (services/programme/agenda.py): escaped, Vietnamese first with English,
in time order, every slot of a table, A4, and nothing loaded from anywhere."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from services.programme.agenda import (
    STYLE,
    AgendaMeeting,
    AgendaSession,
    Org,
    participant_agenda,
    policy,
    table_agenda,
    tables_agenda,
)

T0 = datetime(2026, 7, 13, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam, a Monday
MINUTES_20 = timedelta(minutes=20)
SESSION = AgendaSession(
    session_id="s-1",
    title="Kết nối cung cầu Hải Phòng",
    slots=tuple((T0 + i * MINUTES_20, T0 + (i + 1) * MINUTES_20) for i in range(4)),
    tables=3,
    venue="Trung tâm Hội nghị",
)  # fmt: skip
COOP = Org("b-coop", "Siêu thị Co.op", "TP. Hồ Chí Minh")
TEA = Org("s-tea", "HTX Chè Shan Tuyết", "Tuyên Quang")
COFFEE = Org("s-coffee", "HTX Cà phê Cầu Đất", "Lâm Đồng")
OTHER = Org("b-other", "Chợ đầu mối Bình Điền", "TP. Hồ Chí Minh")
MEETINGS = [
    AgendaMeeting(2, 1, COOP, TEA, ("Chè Shan Tuyết, 2 tấn",)),
    AgendaMeeting(0, 2, COOP, COFFEE, ("Cà phê Robusta, 10 tấn",)),
    AgendaMeeting(1, 1, COOP, COFFEE, (), "cancelled"),
    AgendaMeeting(1, 3, OTHER, TEA, ("Chè xanh",)),
]
HOSTILE = '<script>alert("x")</script>&\'"'


class Text(HTMLParser):
    """The page's visible text and every tag, for assertions that ignore markup."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "style":
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == "style":
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(data.strip())


def parse(page: str) -> Text:
    parser = Text()
    parser.feed(page)
    return parser


def test_a_participants_meetings_come_in_time_order_with_the_other_party():
    page = participant_agenda(SESSION, COOP, MEETINGS)
    text = " | ".join(parse(page).text)
    coffee, cancelled, tea = (text.index(s) for s in ("08:00–08:20", "08:20–08:40", "08:40–09:00"))
    assert coffee < cancelled < tea
    assert "HTX Cà phê Cầu Đất | Lâm Đồng | Nhà cung cấp" in text
    assert "Cà phê Robusta, 10 tấn" in text and "Chè Shan Tuyết, 2 tấn" in text
    assert "Chè xanh" not in text  # another buyer's meeting
    assert "Đã hủy" in text and "2 cuộc gặp" in text  # the cancelled one is shown, not counted
    assert "Vai trò: Bên mua" in text


def test_the_supplier_sees_the_buyers():
    text = " | ".join(parse(participant_agenda(SESSION, TEA, MEETINGS)).text)
    assert text.index("Siêu thị Co.op") > text.index("Chợ đầu mối Bình Điền")  # slot 1, slot 2
    assert "Vai trò: Nhà cung cấp" in text and "Bên mua" in text


def test_a_table_page_lists_every_slot_free_or_who_meets_whom():
    text = " | ".join(parse(table_agenda(SESSION, 1, MEETINGS)).text)
    assert text.count("Trống") == 3  # slots 0, 1 (its meeting was cancelled) and 3
    assert "08:40–09:00 | Siêu thị Co.op | TP. Hồ Chí Minh | HTX Chè Shan Tuyết" in text
    assert text.index("08:00–08:20") < text.index("08:40–09:00") < text.index("09:00–09:20")
    assert "Lịch gặp tại bàn 1" in text


def test_every_table_in_one_document_one_page_each():
    page = tables_agenda(SESSION, MEETINGS)
    assert page.count('<section class="sheet">') == SESSION.tables
    assert "section.sheet { break-after: page; }" in STYLE
    assert "Chợ đầu mối Bình Điền" in page  # table 3


@pytest.mark.parametrize(
    ("render", "vietnamese", "english"),
    [
        (lambda lang: participant_agenda(SESSION, COOP, MEETINGS, lang),
         ["Lịch gặp B2B", "Thời gian", "Thứ Hai 13/07/2026", "Bàn"],
         ["B2B meeting agenda", "Time", "Monday 13/07/2026", "Table", "Cancelled"]),
        (lambda lang: table_agenda(SESSION, 1, MEETINGS, lang),
         ["Lịch gặp tại bàn 1", "Bên mua", "Nhà cung cấp", "Trống"],
         ["Meetings at table 1", "Buyer", "Supplier", "Free"]),
    ],
)  # fmt: skip
def test_vietnamese_by_default_english_on_request(render, vietnamese, english):
    vi, en = render("vi"), render("en")
    assert render("fr") == vi  # anything else: Vietnamese
    assert '<html lang="vi">' in vi and '<html lang="en">' in en
    vi_text, en_text = " ".join(parse(vi).text), " ".join(parse(en).text)
    assert all(word in vi_text for word in vietnamese)
    assert all(word in en_text for word in english)
    assert not any(word in en_text for word in vietnamese[:2])


def test_the_language_switch_is_a_plain_link():
    page = participant_agenda(SESSION, COOP, MEETINGS, "vi", switch_href='?lang=en&x="y"')
    links = [attrs for tag, attrs in parse(page).tags if tag == "a"]
    assert links == [{"href": '?lang=en&x="y"'}]
    assert "<a" not in participant_agenda(SESSION, COOP, MEETINGS)


def test_every_user_string_is_escaped():
    evil = Org(HOSTILE, HOSTILE, HOSTILE)
    session = AgendaSession("s", HOSTILE, SESSION.slots, 2, venue=HOSTILE)
    meetings = [AgendaMeeting(0, 1, evil, TEA, (HOSTILE,)), AgendaMeeting(1, 2, COOP, evil)]
    pages = [
        participant_agenda(session, evil, meetings),
        participant_agenda(session, COOP, meetings, switch_href=HOSTILE),
        table_agenda(session, 1, meetings, "en"),
        tables_agenda(session, meetings),
    ]
    for page in pages:
        assert "<script" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;&quot;" in page
        assert {tag for tag, _ in parse(page).tags} <= {
            "html", "head", "meta", "title", "style", "body", "header", "nav", "a", "h1", "h2",
            "p", "main", "table", "thead", "tbody", "tr", "th", "td", "br", "span", "strong",
            "ul", "li", "section", "footer",
        }  # fmt: skip
        assert HOSTILE in " ".join(parse(page).text)  # shown as text, exactly


def test_printable_on_a4_and_nothing_from_elsewhere():
    page = participant_agenda(SESSION, COOP, MEETINGS)
    assert "@page { size: A4;" in STYLE
    assert not re.search(r"https?:|//|<link|<script|<img|src=|url\(|@import", page)
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy()
    assert f"<style>{STYLE}</style>" in page  # the exact block the policy allows
    assert "default-src 'none'" in policy()


def test_times_are_vietnam_time_and_naive_times_stay_as_given():
    naive = AgendaSession(
        "s", "t", ((datetime(2026, 7, 13, 14, 0), datetime(2026, 7, 13, 14, 30)),), 1
    )
    page = table_agenda(naive, 1, [])
    assert "14:00–14:30" in page
    late = AgendaSession("s", "t", ((datetime(2026, 7, 13, 17, 30, tzinfo=UTC),
                                     datetime(2026, 7, 13, 17, 50, tzinfo=UTC)),), 1)  # fmt: skip
    assert "Thứ Ba 14/07/2026<br>00:30–00:50" in table_agenda(late, 1, [])  # next day in Vietnam


def test_a_participant_without_meetings_gets_a_plain_note():
    text = " ".join(parse(participant_agenda(SESSION, Org("x", "Nobody"), MEETINGS, "en")).text)
    assert "No meeting is scheduled yet." in text and "0 meeting(s)" in text
