"""Organizations: who supplies, who buys, who organizes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.fields import Contract, Identifier, ProvinceField, Text


class OrganizationKind(StrEnum):
    COOPERATIVE = "cooperative"  # hợp tác xã (HTX)
    ENTERPRISE = "enterprise"  # doanh nghiệp
    HOUSEHOLD = "household"  # hộ sản xuất, kinh doanh
    SUPERMARKET_CHAIN = "supermarket-chain"  # chuỗi siêu thị
    TRADE_CENTRE = "trade-centre"  # trung tâm thương mại
    WHOLESALE_MARKET = "wholesale-market"  # chợ đầu mối
    RETAILER = "retailer"  # nhà bán lẻ, cửa hàng tiện lợi
    EXPORTER = "exporter"  # doanh nghiệp xuất khẩu
    ORGANIZER = "organizer"  # Sở Công Thương, trung tâm xúc tiến thương mại


SUPPLIER_KINDS = frozenset(
    {OrganizationKind.COOPERATIVE, OrganizationKind.ENTERPRISE, OrganizationKind.HOUSEHOLD}
)
BUYER_KINDS = frozenset(
    {
        OrganizationKind.SUPERMARKET_CHAIN,
        OrganizationKind.TRADE_CENTRE,
        OrganizationKind.WHOLESALE_MARKET,
        OrganizationKind.RETAILER,
        OrganizationKind.EXPORTER,
        OrganizationKind.ENTERPRISE,
    }
)


class Organization(Contract):
    org_id: Identifier
    name: Text
    kind: OrganizationKind
    province: ProvinceField
    tax_code: str | None = Field(
        default=None, pattern=r"^\d{10}(-\d{3})?$", description="mã số thuế: 10 digits (+ -NNN)"
    )
