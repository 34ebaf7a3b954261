"""A report as one printable A4 page: Vietnamese by default, English with ``lang="en"``.

Self-contained (no script, font, image or stylesheet from anywhere), so the file the CLI saves
prints the same offline. Its stylesheet is a ``<style>`` block; the gateway serves the page
with a Content-Security-Policy that allows that block by its hash and nothing else
(``policy()``). Every string that came from a user (names, ids, reasons) is escaped.
"""

from __future__ import annotations

from html import escape

from services.common.printable import style_policy
from services.reports.labels import Label
from services.reports.shapes import NUMERIC, Cell, Figure, Report, Table

STYLE = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
html { font-family: "Noto Sans", "DejaVu Sans", Arial, sans-serif; font-size: 10pt;
       color: #111; background: #fff; }
body { margin: 0 auto; max-width: 200mm; padding: 6mm 0; }
header { border-bottom: 2px solid #1f4e79; margin-bottom: 5mm; padding-bottom: 2mm; }
h1 { font-size: 15pt; margin: 0 0 2mm; color: #1f4e79; }
h2 { font-size: 11.5pt; margin: 6mm 0 2mm; color: #1f4e79; break-after: avoid; }
p.meta { margin: 0.5mm 0; color: #444; font-size: 9pt; }
nav.lang { float: right; font-size: 9pt; }
dl.headline { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2mm 4mm; margin: 0; }
dl.headline div { border: 1px solid #c9d6e3; border-radius: 1.5mm; padding: 1.5mm 2.5mm;
                  break-inside: avoid; }
dl.headline dt { font-size: 8.5pt; color: #444; }
dl.headline dd { margin: 0; font-size: 12pt; font-weight: bold; }
section { break-inside: auto; }
table { width: 100%; border-collapse: collapse; font-size: 8.5pt; }
table.wide { font-size: 7.5pt; }
table.wide th, table.wide td { padding: 0.8mm 1mm; }
thead { display: table-header-group; }
tfoot { display: table-row-group; }
tr { break-inside: avoid; }
th, td { border: 1px solid #b7c4d1; padding: 1mm 1.5mm; vertical-align: top; text-align: left;
         overflow-wrap: anywhere; }
th { background: #ddebf7; font-weight: bold; overflow-wrap: normal; hyphens: auto; }
th.num { text-align: right; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums;
         overflow-wrap: normal; }
tr.totals td { font-weight: bold; background: #f2f2f2; border-top: 2px solid #1f4e79; }
p.note { font-size: 8pt; color: #555; margin: 1mm 0 0; }
p.empty { color: #555; font-style: italic; }
footer { margin-top: 8mm; font-size: 8pt; color: #666; border-top: 1px solid #ccc; }
@media print { nav.lang { display: none; } body { padding: 0; max-width: none; } }
""".strip()

_WORDS = {
    "generated": Label("Lập lúc", "Generated at"),
    "sessions": Label("Phiên trong báo cáo", "Sessions in this report"),
    "period": Label("Kỳ báo cáo", "Period"),
    "headline": Label("Kết quả chính", "Key figures"),
    "empty": Label("Không có số liệu.", "No data."),
    "switch": Label("English", "Tiếng Việt"),
    "footer": Label(
        "Số liệu từ Ketnoi: MoU và hợp đồng “hai bên” là những gì bên mua và bên bán cùng khai; "
        "kết nối “đã chốt” là những đề xuất cả hai bên đã chấp nhận.",
        "Figures from Ketnoi: MoUs and contracts “both sides” are what the buyer and the "
        "supplier both stated; “confirmed” matches are proposals both sides accepted.",
    ),
}
WIDE_COLUMNS = 8
NUM = ' class="num"'


def number(value: float | int, kind: str, lang: str) -> str:
    """1.234.567 in Vietnamese, 1,234,567 in English; kilograms keep up to 3 decimals."""
    if kind == "kg" and float(value) != int(value):
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
    else:
        text = f"{round(value):,d}"
    if lang == "en":
        return text
    return text.translate(str.maketrans(",.", ".,"))


def _text(value: Cell, lang: str) -> str:
    if value is None:
        return ""
    return value.text(lang) if isinstance(value, Label) else str(value)


def _cell(value: Cell, kind: str, lang: str, tag: str = "td") -> str:
    if kind in NUMERIC and isinstance(value, int | float):
        return f"<{tag}{NUM}>{number(value, kind, lang)}</{tag}>"
    if kind == "date" and isinstance(value, str) and len(value) == 10:
        value = f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
    return f"<{tag}>{escape(_text(value, lang))}</{tag}>"


def _table(table: Table, lang: str) -> str:
    title = escape(table.title.text(lang))
    head = "".join(
        f'<th scope="col"{NUM if c.kind in NUMERIC else ""}>{escape(c.title.text(lang))}</th>'
        for c in table.columns
    )
    body = "".join(
        "<tr>"
        + "".join(_cell(v, c.kind, lang) for c, v in zip(table.columns, row, strict=True))
        + "</tr>"
        for row in table.rows
    )
    if not table.rows:
        body = (
            f'<tr><td colspan="{len(table.columns)}">{escape(_WORDS["empty"].text(lang))}</td></tr>'
        )
    totals = "".join(
        _cell(v, c.kind, lang) for c, v in zip(table.columns, table.totals, strict=True)
    )
    wide = ' class="wide"' if len(table.columns) > WIDE_COLUMNS else ""
    note = f'<p class="note">{escape(table.note.text(lang))}</p>' if table.note else ""
    return (
        f'<section id="{escape(table.key)}"><h2>{title}</h2><table{wide}>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f'<tfoot><tr class="totals">{totals}</tr></tfoot></table>{note}</section>'
    )


def _figure(figure: Figure, lang: str) -> str:
    value = number(figure.value, figure.kind, lang)
    return f"<div><dt>{escape(figure.title.text(lang))}</dt><dd>{value}</dd></div>"


def page(report: Report, lang: str = "vi", switch_href: str | None = None) -> str:
    """The whole page. ``switch_href``: a link to the other language (when served)."""
    lang = "en" if lang == "en" else "vi"
    w = {key: label.text(lang) for key, label in _WORDS.items()}
    meta = [f"{w['generated']}: {report.generated_at:%d/%m/%Y %H:%M} UTC"]
    if report.scope.kind == "period" and report.scope.start and report.scope.end:
        meta.append(f"{w['period']}: {report.scope.start:%d/%m/%Y} – {report.scope.end:%d/%m/%Y}")
    meta.append(f"{w['sessions']}: {', '.join(report.session_ids) or '–'}")
    switch = ""
    if switch_href is not None:
        switch = f'<nav class="lang"><a href="{escape(switch_href)}">{w["switch"]}</a></nav>'
    title = escape(report.title.text(lang))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<header>{switch}<h1>{title}</h1>"
        + "".join(f'<p class="meta">{escape(line)}</p>' for line in meta)
        + f'</header><section id="headline"><h2>{w["headline"]}</h2><dl class="headline">'
        + "".join(_figure(f, lang) for f in report.headline)
        + "</dl></section>"
        + "".join(_table(t, lang) for t in report.tables)
        + f"<footer><p>{escape(w['footer'])}</p></footer></body></html>"
    )


def policy() -> str:
    """The Content-Security-Policy of the page: its own style block, nothing else at all."""
    return style_policy(STYLE)
