"""The printable page: every user string escaped, nothing loaded from anywhere, its one style
block allowed by the policy's hash, Vietnamese and English numbers."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date

from services.reports import html
from services.reports.model import Documents, Scope, build
from tests.unit.test_report_model import DOCS, NOW, ORGS

HOSTILE = '<script>alert("x")</script> & "HTX"'


def _report(**changes):
    fields = {name: getattr(DOCS, name) for name in DOCS.__dataclass_fields__}
    return build(Documents(**{**fields, **changes}), Scope("period", start=date(2026, 1, 1),
                                                           end=date(2026, 6, 30)), NOW)  # fmt: skip


def test_user_strings_are_escaped_and_nothing_is_fetched():
    orgs = [{**ORGS[0], "name": HOSTILE}, *ORGS[1:]]
    page = html.page(_report(organizations=orgs), "vi")
    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert not re.search(r"\b(src|href)\s*=", page)  # no image, script, font or stylesheet
    assert "@import" not in page and "url(" not in page


def test_the_policy_allows_exactly_the_page_style_block():
    page = html.page(_report(), "vi")
    (style,) = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = html.policy()
    assert f"style-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert "script" not in policy  # default-src 'none' forbids every script


def test_vietnamese_first_english_on_request():
    report = _report()
    vi, en = html.page(report, "vi"), html.page(report, "en")
    assert vi.startswith('<!DOCTYPE html><html lang="vi">') and '<html lang="en">' in en
    assert "Kết quả chính" in vi and "Key figures" in en
    assert "1.440.000.000" in vi and "1,440,000,000" in en  # the confirmed value
    assert "Tổng cộng" in vi and ">Total<" in en
    assert html.number(1234.5, "kg", "vi") == "1.234,5" and html.number(1234.5, "kg", "en") == (
        "1,234.5"
    )


def test_a_served_page_links_to_the_other_language_and_a_saved_one_does_not():
    report = _report()
    assert "href" not in html.page(report, "vi")
    served = html.page(report, "vi", switch_href='?format=html&lang=en"><x')
    assert 'href="?format=html&amp;lang=en&quot;&gt;&lt;x"' in served


def test_an_empty_table_says_so_and_still_has_its_totals():
    report = _report(sessions=[])
    page = html.page(report, "en")
    # every table but the matches by status (one row per status, all 0) is empty
    assert page.count("No data.") == len(report.tables) - 1
    assert "Every demand is fully met." in page
    assert page.count('class="totals"') == len(report.tables)
