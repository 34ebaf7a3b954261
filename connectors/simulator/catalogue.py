"""Static data of a scenario: who sells what from where, who buys, at what prices and volumes.

Kept apart from the generator so a new scenario is a new ``Catalogue``, not new code. Figures
are plausible orders of magnitude for 2025-2026 (VND per kg, kg per lot), not market quotes.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.organizations import OrganizationKind as Kind


@dataclass(frozen=True)
class ProductSpec:
    """A typical regional product and the ranges its offers are drawn from."""

    name: str  # as on a catalogue line, e.g. "Vải thiều Lục Ngạn"
    category: str  # taxonomy code
    trade: str  # short word for organisation names ("Cà phê", "Vải thiều")
    keyword: str  # what a buyer types to ask for exactly this ("vải thiều")
    price_per_kg: tuple[int, int]  # VND, offer price range
    lot_kg: int  # typical cooperative lot; households sell less, enterprises more
    season: tuple[int, int] | None = None  # harvest months (start, end), may wrap the year
    geographical_indication: bool = False  # a registered GI (chỉ dẫn địa lý) exists
    bulk_priced: bool = False  # traders also quote it per tạ
    weight_units: bool = True  # False: only ever counted in kg (ginseng)


@dataclass(frozen=True)
class Place:
    """A home province: its pre-2025 name and the current unit it now belongs to."""

    slug: str
    legacy: str  # the name people used before 2025-07-01
    current: str  # the current unit's name (equal to ``legacy`` when unchanged)
    localities: tuple[str, ...]  # districts, towns: for organisation names
    spellings: tuple[str, ...] = ()  # further ways the legacy name is typed
    city: bool = False  # "TP." rather than "Tỉnh"

    @property
    def renamed(self) -> bool:
        """True when the legacy name no longer names a current unit (Kon Tum -> Quảng Ngãi)."""
        return self.legacy != self.current


@dataclass(frozen=True)
class SupplierRegion:
    place: Place
    products: tuple[ProductSpec, ...]


@dataclass(frozen=True)
class BuyerSpec:
    name: str
    kind: Kind
    place: Place


@dataclass(frozen=True)
class BuyerProfile:
    """How a kind of buyer buys: volumes, price tolerance, papers and payment."""

    weight: float  # share of demands
    lot_share: tuple[float, float]  # demand kg as a share of the product's typical lot
    ceiling_factor: tuple[float, float]  # price ceiling / mid offer price
    payment_days: tuple[int, ...]  # terms offered, in the round numbers contracts use
    vat: float  # probability of requiring a VAT invoice
    traceability: float
    min_stars: float  # probability of asking for OCOP 3 stars or more
    certificate: float  # probability of requiring the category's usual paper
    categories: frozenset[str] | None = None  # None: buys every category


@dataclass(frozen=True)
class Catalogue:
    name: str
    regions: tuple[SupplierRegion, ...]
    buyers: tuple[BuyerSpec, ...]
    profiles: dict[Kind, BuyerProfile]
    suppliers_per_region: int = 10


# fmt: off
# name, category, trade word, buyer keyword, price range per kg (VND), typical lot (kg), ...
SAM_NGOC_LINH = ProductSpec("Sâm Ngọc Linh", "ginseng", "Sâm Ngọc Linh", "sâm Ngọc Linh",
                            (80_000_000, 180_000_000), 20,
                            geographical_indication=True, weight_units=False)
ROBUSTA_KON_TUM = ProductSpec("Cà phê Robusta Kon Tum", "coffee", "Cà phê", "cà phê Robusta",
                              (90_000, 130_000), 8_000, bulk_priced=True)
MIEN_DONG = ProductSpec("Miến dong Cao Bằng", "rice-noodles", "Miến dong", "miến dong",
                        (70_000, 95_000), 2_000)
HAT_DE = ProductSpec("Hạt dẻ Trùng Khánh", "nuts", "Hạt dẻ", "hạt dẻ", (120_000, 200_000), 1_500,
                     season=(9, 11), geographical_indication=True)
MAN_HAU = ProductSpec("Mận hậu Sơn La", "fresh-fruit", "Mận", "mận hậu", (15_000, 35_000), 10_000,
                      season=(5, 7), bulk_priced=True)
XOAI = ProductSpec("Xoài Sơn La", "fresh-fruit", "Xoài", "xoài", (15_000, 30_000), 8_000,
                   season=(6, 8), bulk_priced=True)
ARABICA = ProductSpec("Cà phê Arabica Sơn La", "coffee", "Cà phê", "cà phê Arabica",
                      (100_000, 140_000), 5_000, bulk_priced=True)
CHE_TA_XUA = ProductSpec("Chè Shan Tuyết Tà Xùa", "tea", "Chè", "chè Shan Tuyết",
                         (180_000, 450_000), 800)
CAM_VINH = ProductSpec("Cam Vinh", "fresh-fruit", "Cam", "cam Vinh", (25_000, 45_000), 12_000,
                       season=(10, 1), geographical_indication=True, bulk_priced=True)
CHE_NGHE_AN = ProductSpec("Chè xanh Thanh Chương", "tea", "Chè", "chè xanh", (120_000, 250_000),
                          1_500)
VAI_LUC_NGAN = ProductSpec("Vải thiều Lục Ngạn", "fresh-fruit", "Vải thiều", "vải thiều",
                           (25_000, 45_000), 20_000, season=(5, 7),
                           geographical_indication=True, bulk_priced=True)
MI_CHU = ProductSpec("Mì Chũ Bắc Giang", "rice-noodles", "Mì Chũ", "mì Chũ", (40_000, 60_000),
                     2_000)
VAI_THANH_HA = ProductSpec("Vải thiều Thanh Hà", "fresh-fruit", "Vải thiều", "vải thiều",
                           (25_000, 45_000), 15_000, season=(5, 7),
                           geographical_indication=True, bulk_priced=True)
BANH_DAU_XANH = ProductSpec("Bánh đậu xanh Hải Dương", "confectionery", "Bánh đậu xanh",
                            "bánh đậu xanh", (120_000, 220_000), 800)
NHAN_LONG = ProductSpec("Nhãn lồng Hưng Yên", "fresh-fruit", "Nhãn lồng", "nhãn lồng",
                        (30_000, 60_000), 10_000, season=(7, 8),
                        geographical_indication=True, bulk_priced=True)
LONG_NHAN = ProductSpec("Long nhãn Hưng Yên", "dried-goods", "Long nhãn", "long nhãn",
                        (250_000, 400_000), 600)
ROBUSTA_DAK_NONG = ProductSpec("Cà phê Robusta Đắk Nông", "coffee", "Cà phê", "cà phê Robusta",
                               (90_000, 130_000), 15_000, bulk_priced=True)
HO_TIEU = ProductSpec("Hồ tiêu Đắk Nông", "spices", "Hồ tiêu", "hồ tiêu", (120_000, 180_000),
                      8_000, bulk_priced=True)
BO_DAK_NONG = ProductSpec("Bơ Đắk Nông", "fresh-fruit", "Bơ", "bơ", (25_000, 50_000), 8_000,
                          season=(6, 9), bulk_priced=True)
MAC_CA = ProductSpec("Mắc ca Đắk Nông", "nuts", "Mắc ca", "mắc ca", (150_000, 280_000), 2_000)

# slug, legacy name, current unit, localities, other spellings of the legacy name
KON_TUM = Place("kon-tum", "Kon Tum", "Quảng Ngãi",
                ("Đăk Hà", "Tu Mơ Rông", "Đăk Tô", "Kon Plông", "Ngọc Hồi"), ("KonTum",))
CAO_BANG = Place("cao-bang", "Cao Bằng", "Cao Bằng",
                 ("Trùng Khánh", "Nguyên Bình", "Hòa An", "Quảng Hòa"))
SON_LA = Place("son-la", "Sơn La", "Sơn La",
               ("Mộc Châu", "Yên Châu", "Mai Sơn", "Thuận Châu", "Bắc Yên"))
NGHE_AN = Place("nghe-an", "Nghệ An", "Nghệ An",
                ("Thanh Chương", "Nghĩa Đàn", "Quỳ Hợp", "Anh Sơn", "Vinh"))
BAC_GIANG = Place("bac-giang", "Bắc Giang", "Bắc Ninh",
                  ("Lục Ngạn", "Lục Nam", "Yên Thế", "Tân Yên"))
HAI_DUONG = Place("hai-duong", "Hải Dương", "Hải Phòng",
                  ("Thanh Hà", "Chí Linh", "Kinh Môn", "Ninh Giang", "Cẩm Giàng"))
HUNG_YEN = Place("hung-yen", "Hưng Yên", "Hưng Yên",
                 ("Khoái Châu", "Tiên Lữ", "Kim Động", "Phố Hiến"))
DAK_NONG = Place("dak-nong", "Đắk Nông", "Lâm Đồng",
                 ("Đắk Mil", "Đắk Song", "Tuy Đức", "Krông Nô", "Gia Nghĩa"), ("Đăk Nông",))
HAI_PHONG = Place("hai-phong", "Hải Phòng", "Hải Phòng",
                  ("Lê Chân", "Ngô Quyền", "Hồng Bàng", "Kiến An", "Thủy Nguyên"), city=True)
# Buyers in the former province of Hải Dương, now part of the city of Hải Phòng.
HAI_DUONG_CITY = Place("hai-duong", "Hải Dương", "Hải Phòng", ("Chí Linh", "Cẩm Giàng"), city=True)
# fmt: on

_SUPERMARKET = BuyerProfile(
    weight=0.35,
    lot_share=(0.1, 0.9),
    ceiling_factor=(0.95, 1.3),
    payment_days=(30, 30, 45),
    vat=0.95,
    traceability=0.6,
    min_stars=0.3,
    certificate=0.45,
)
_TRADE_CENTRE = BuyerProfile(
    weight=0.15,
    lot_share=(0.05, 0.5),
    ceiling_factor=(1.0, 1.3),
    payment_days=(15, 30),
    vat=0.9,
    traceability=0.5,
    min_stars=0.5,
    certificate=0.3,
)
_WHOLESALE = BuyerProfile(
    weight=0.30,
    lot_share=(0.3, 5.0),
    ceiling_factor=(0.7, 1.05),
    payment_days=(0, 0, 7),
    vat=0.15,
    traceability=0.05,
    min_stars=0.0,
    certificate=0.05,
    categories=frozenset(
        {"fresh-fruit", "coffee", "nuts", "rice-noodles", "spices", "tea", "dried-goods"}
    ),
)
_CONVENIENCE = BuyerProfile(
    weight=0.20,
    lot_share=(0.03, 0.25),
    ceiling_factor=(1.0, 1.35),
    payment_days=(15, 30),
    vat=0.9,
    traceability=0.8,
    min_stars=0.4,
    certificate=0.4,
    categories=frozenset(
        {
            "coffee",
            "tea",
            "nuts",
            "rice-noodles",
            "confectionery",
            "dried-goods",
            "fresh-fruit",
            "spices",
        }
    ),
)

SEED_ARTICLE = Catalogue(
    name="seed-article",
    regions=(
        SupplierRegion(KON_TUM, (SAM_NGOC_LINH, ROBUSTA_KON_TUM)),
        SupplierRegion(CAO_BANG, (MIEN_DONG, HAT_DE)),
        SupplierRegion(SON_LA, (MAN_HAU, XOAI, ARABICA, CHE_TA_XUA)),
        SupplierRegion(NGHE_AN, (CAM_VINH, CHE_NGHE_AN)),
        SupplierRegion(BAC_GIANG, (VAI_LUC_NGAN, MI_CHU)),
        SupplierRegion(HAI_DUONG, (VAI_THANH_HA, BANH_DAU_XANH)),
        SupplierRegion(HUNG_YEN, (NHAN_LONG, LONG_NHAN)),
        SupplierRegion(DAK_NONG, (ROBUSTA_DAK_NONG, HO_TIEU, BO_DAK_NONG, MAC_CA)),
    ),
    buyers=(
        BuyerSpec("Chuỗi siêu thị Cảng Xanh", Kind.SUPERMARKET_CHAIN, HAI_PHONG),
        BuyerSpec("Hệ thống siêu thị Hoa Phượng Đỏ", Kind.SUPERMARKET_CHAIN, HAI_PHONG),
        BuyerSpec("Siêu thị Thành Đông", Kind.SUPERMARKET_CHAIN, HAI_DUONG_CITY),
        BuyerSpec("Trung tâm thương mại Lạch Tray", Kind.TRADE_CENTRE, HAI_PHONG),
        BuyerSpec("Trung tâm thương mại Kiến An", Kind.TRADE_CENTRE, HAI_PHONG),
        BuyerSpec("Trung tâm thương mại Chí Linh", Kind.TRADE_CENTRE, HAI_DUONG_CITY),
        BuyerSpec("Chợ đầu mối nông sản Vĩnh Niệm", Kind.WHOLESALE_MARKET, HAI_PHONG),
        BuyerSpec("Chợ đầu mối Thủy Nguyên", Kind.WHOLESALE_MARKET, HAI_PHONG),
        BuyerSpec("Chợ đầu mối nông sản Hải Dương", Kind.WHOLESALE_MARKET, HAI_DUONG_CITY),
        BuyerSpec("Chuỗi cửa hàng tiện lợi Phố Cảng", Kind.RETAILER, HAI_PHONG),
        BuyerSpec("Chuỗi cửa hàng nông sản sạch Hải An", Kind.RETAILER, HAI_PHONG),
        BuyerSpec("Chuỗi cửa hàng tiện lợi Cẩm Giàng", Kind.RETAILER, HAI_DUONG_CITY),
    ),
    profiles={
        Kind.SUPERMARKET_CHAIN: _SUPERMARKET,
        Kind.TRADE_CENTRE: _TRADE_CENTRE,
        Kind.WHOLESALE_MARKET: _WHOLESALE,
        Kind.RETAILER: _CONVENIENCE,
    },
)

CATALOGUES: dict[str, Catalogue] = {SEED_ARTICLE.name: SEED_ARTICLE}

# Producers by kind among rated OCOP producers (mid-2024): 33% cooperatives, 22% enterprises,
# 40% households; the remaining 5% (groups, others) is spread over the three.
SUPPLIER_KIND_WEIGHTS: dict[Kind, float] = {
    Kind.COOPERATIVE: 0.33,
    Kind.ENTERPRISE: 0.22,
    Kind.HOUSEHOLD: 0.40,
}

# Spellings a clerk uses for each paper; the contracts normalise them.
CERTIFICATE_SPELLINGS: dict[str, tuple[str, ...]] = {
    "vietgap": ("VietGAP", "VietGAP", "Viet GAP", "VIETGAP"),
    "globalgap": ("GlobalG.A.P.", "GlobalGAP", "Global GAP"),
    "organic": ("hữu cơ", "Chứng nhận hữu cơ", "organic"),
    "haccp": ("HACCP",),
    "iso22000": ("ISO 22000", "ISO 22000:2018"),
    "food-safety": ("ATTP", "cơ sở đủ điều kiện ATTP", "VSATTP"),
    "geographical-indication": ("Chỉ dẫn địa lý", "CDĐL"),
    "traceability-qr": ("tem truy xuất nguồn gốc", "QR code"),
}

# Papers a supplier of a category may hold: (certificate, probability for a cooperative).
CATEGORY_CERTIFICATES: dict[str, tuple[tuple[str, float], ...]] = {
    "fresh-fruit": (("vietgap", 0.45), ("globalgap", 0.12), ("organic", 0.04)),
    "coffee": (("vietgap", 0.3), ("organic", 0.08), ("haccp", 0.05)),
    "ginseng": (("organic", 0.1), ("food-safety", 0.3)),
    "tea": (("vietgap", 0.35), ("organic", 0.1), ("food-safety", 0.3)),
    "rice-noodles": (("food-safety", 0.7), ("haccp", 0.2), ("iso22000", 0.1)),
    "confectionery": (("food-safety", 0.75), ("haccp", 0.2), ("iso22000", 0.15)),
    "dried-goods": (("food-safety", 0.6), ("haccp", 0.15)),
    "nuts": (("food-safety", 0.5), ("vietgap", 0.2), ("haccp", 0.1)),
    "spices": (("vietgap", 0.3), ("organic", 0.05), ("haccp", 0.1)),
}

# The paper a buyer most often asks for in a category.
USUAL_REQUIREMENT: dict[str, str] = {
    "fresh-fruit": "vietgap",
    "coffee": "vietgap",
    "tea": "vietgap",
    "spices": "vietgap",
    "ginseng": "food-safety",
    "rice-noodles": "food-safety",
    "confectionery": "food-safety",
    "dried-goods": "food-safety",
    "nuts": "food-safety",
}

FAMILY_NAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Vũ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hà",
    "Lò",
    "Nông",
    "Cầm",
    "Lương",
    "Đinh",
)
MIDDLE_NAMES = ("Văn", "Thị", "Đức", "Minh", "Thanh", "Ngọc", "Hữu", "Xuân")
GIVEN_NAMES = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hà",
    "Hải",
    "Hạnh",
    "Hùng",
    "Lan",
    "Linh",
    "Mai",
    "Nam",
    "Phương",
    "Quang",
    "Sơn",
    "Thảo",
    "Thắng",
    "Trang",
    "Tuấn",
    "Yến",
)
