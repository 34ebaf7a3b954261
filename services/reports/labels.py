"""Words a report shows, Vietnamese first and English second.

A report is built once and rendered in either language, so every word that depends on the
language travels as a ``Label`` (both spellings) until a renderer picks one.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from schemas.reference.taxonomy import UnknownCategoryError, category, ocop_group


class Label(NamedTuple):
    """A word or phrase in both languages."""

    vi: str
    en: str

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


UNKNOWN = Label("(không rõ)", "(unknown)")
TOTAL = Label("Tổng cộng", "Total")

SESSION_STATUS = {
    "scheduled": Label("Chưa mở", "Scheduled"),
    "open": Label("Đang mở", "Open"),
    "closed": Label("Đã đóng", "Closed"),
}
MATCH_STATUS = {
    "proposed": Label("Đề xuất", "Proposed"),
    "accepted": Label("Một bên đồng ý", "Accepted by one side"),
    "confirmed": Label("Đã chốt", "Confirmed"),
    "declined": Label("Bị từ chối", "Declined"),
    "expired": Label("Hết hạn", "Expired"),
    "released": Label("Đã hủy", "Released"),
}
ROLE = {
    "buyer": Label("Bên mua", "Buyer"),
    "supplier": Label("Bên bán", "Supplier"),
}
ORG_KIND = {
    "cooperative": Label("Hợp tác xã", "Cooperative"),
    "enterprise": Label("Doanh nghiệp", "Enterprise"),
    "household": Label("Hộ sản xuất", "Household"),
    "supermarket-chain": Label("Chuỗi siêu thị", "Supermarket chain"),
    "trade-centre": Label("Trung tâm thương mại", "Trade centre"),
    "wholesale-market": Label("Chợ đầu mối", "Wholesale market"),
    "retailer": Label("Nhà bán lẻ", "Retailer"),
    "exporter": Label("Doanh nghiệp xuất khẩu", "Exporter"),
    "organizer": Label("Đơn vị tổ chức", "Organizer"),
}
REASON = {
    "price": Label("Giá chào cao hơn giá trần người mua", "Offers above the buyer's ceiling"),
    "region": Label("Nhà cung cấp không giao đến tỉnh nhận", "Suppliers do not deliver there"),
    "dates": Label("Không giao kịp trong thời gian yêu cầu", "Cannot deliver within the window"),
    "lot": Label("Không khớp quy cách lô hàng", "Lot sizes do not fit"),
    "stars": Label("Chưa đủ số sao OCOP yêu cầu", "Fewer OCOP stars than required"),
    "certifications": Label("Thiếu chứng nhận yêu cầu", "A required certification is missing"),
    "payment": Label("Không nhận điều kiện trả chậm", "Deferred payment not accepted"),
    "vat-invoice": Label("Không xuất hóa đơn VAT", "No VAT invoice"),
    "traceability": Label("Chưa có tem truy xuất nguồn gốc", "No traceability stamps"),
    "excluded": Label("Một bên đã loại trừ bên kia", "One side excluded the other"),
    "history": Label(
        "Các chào hàng phù hợp đã bị từ chối hoặc hết hạn",
        "Fitting offers were declined or expired",
    ),
    "quantity": Label("Hàng phù hợp đã được giữ chỗ hết", "Fitting stock is all reserved"),
    "limit": Label("Đang chờ lượt ghép tiếp theo", "Waiting for the next matching round"),
    "no-offers": Label("Chưa có chào bán nào trong nhóm hàng này", "No offer in this category yet"),
    "awaiting": Label("Phần còn lại đang chờ hai bên xác nhận", "The rest awaits both sides"),
    "other": Label("Chưa tìm được nguồn phù hợp", "No fitting supply found"),
    "none": Label("Đang chờ bộ ghép xử lý", "Waiting for the matcher"),
}
_COUNTS = re.compile(r"(\d+) of (?:the )?(\d+)")


def reason_code(reason: str) -> str:
    """The rule a matcher's reason names ("price: 12 of 30 open offers ..." -> "price"), the
    same reading as the monitor's page."""
    if reason.startswith("no open offer"):
        return "no-offers"
    head, colon, _ = reason.partition(":")
    return head if colon and head.replace("-", "").isalpha() else "other"


def reason_label(reason: str | None, awaiting: bool) -> Label:
    """Why a demand is still short, in both languages: the matcher's latest reason, or that
    its proposals wait for decisions, or that the matcher has not said yet."""
    if not reason:
        return REASON["awaiting" if awaiting else "none"]
    label = REASON.get(reason_code(reason), REASON["other"])
    counts = _COUNTS.search(reason)
    if counts:
        bad, total = counts.groups()
        return Label(f"{label.vi} ({bad}/{total} chào bán)", f"{label.en} ({bad}/{total} offers)")
    return label


def category_label(code: str | None) -> Label:
    if not code:
        return UNKNOWN
    try:
        found = category(code)
    except UnknownCategoryError:
        return Label(code, code)
    return Label(found.name_vi, found.name_en)


def group_of(code: str | None) -> str | None:
    """The OCOP group code of a category code (None when unknown)."""
    if not code:
        return None
    try:
        return category(code).group
    except UnknownCategoryError:
        return None


def group_label(code: str | None) -> Label:
    if not code:
        return UNKNOWN
    try:
        found = ocop_group(code)
    except (KeyError, ValueError):
        return Label(code, code)
    return Label(found.name_vi, found.name_en)


def stars_label(stars: int) -> Label:
    if stars <= 0:
        return Label("Chưa xếp hạng", "Not rated")
    return Label(f"{stars} sao", f"{stars} star{'s' if stars > 1 else ''}")


def kind_label(kind: str | None) -> Label:
    if not kind:
        return UNKNOWN
    return ORG_KIND.get(kind, Label(kind, kind))
