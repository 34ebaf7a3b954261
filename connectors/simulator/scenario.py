"""A seeded, deterministic stream of offers and demands modelled on a real connection programme.

Everything random comes from one ``random.Random(seed)`` and every timestamp from ``start``, so
the same options always give byte-identical output and a failing run can be replayed exactly.
Event and order ids derive from the options, so re-sending a stream straight to Kafka gives
consumers duplicates to ignore; through the gateway, which assigns its own ids, it is new orders.
Bodies are written the way clerks type them (legacy province names, tấn/tạ/yến, "Viet GAP"), and
every event is built through the contracts' own validation, as a producer would build it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.simulator.catalogue import (
    CATALOGUES,
    CATEGORY_CERTIFICATES,
    CERTIFICATE_SPELLINGS,
    FAMILY_NAMES,
    GIVEN_NAMES,
    MIDDLE_NAMES,
    SUPPLIER_KIND_WEIGHTS,
    USUAL_REQUIREMENT,
    BuyerProfile,
    BuyerSpec,
    Catalogue,
    Place,
    ProductSpec,
)
from schemas.events import (
    DemandPosted,
    Envelope,
    OfferPublished,
    OrganizationRegistered,
    derived_id,
)
from schemas.fields import VIETNAM
from schemas.organizations import OrganizationKind as Kind
from schemas.reference import category as lookup_category
from schemas.reference.text import fold, nfc, strip_diacritics

DEFAULT_START = datetime(2026, 12, 1, 8, 0, tzinfo=VIETNAM)
DEFAULT_SCENARIO = "seed-article"

Body = dict[str, Any]


@dataclass(frozen=True)
class ScenarioConfig:
    """Knobs of a generated stream; every one of them is part of the stream's identity."""

    scenario: str = DEFAULT_SCENARIO
    seed: int = 42
    count: int = 100
    """Offers plus demands; organization registrations (if enabled) come on top."""
    offers_per_demand: float = 4.0
    legacy_share: float = 0.3
    """Share of offers and demands whose place is written with a pre-2025 name."""
    start: datetime = DEFAULT_START
    with_organizations: bool = False
    mean_gap_s: float = 180.0
    """Mean time between two orders (exponential), so 100 orders span about five hours."""

    def __post_init__(self) -> None:
        if self.scenario not in CATALOGUES:
            known = ", ".join(sorted(CATALOGUES))
            raise ValueError(f"unknown scenario {self.scenario!r}; known: {known}")
        if self.count < 0:
            raise ValueError(f"count must not be negative, got {self.count}")
        if self.offers_per_demand < 0:
            raise ValueError(f"offers_per_demand must not be negative: {self.offers_per_demand}")
        if not 0.0 <= self.legacy_share <= 1.0:
            raise ValueError(f"legacy_share must be between 0 and 1, got {self.legacy_share}")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must be timezone-aware (e.g. 2026-12-01T08:00:00+07:00)")
        if self.mean_gap_s <= 0:
            raise ValueError(f"mean_gap_s must be positive, got {self.mean_gap_s}")

    @property
    def source(self) -> str:
        return f"simulator:{self.scenario}"

    @property
    def run_tag(self) -> str:
        """Short tag of the knobs that shape the order stream.

        ``count`` only truncates the stream and ``with_organizations`` only adds to it, so
        neither changes the orders' ids.
        """
        knobs = (
            self.scenario,
            self.seed,
            self.offers_per_demand,
            self.legacy_share,
            self.start.isoformat(),
            self.mean_gap_s,
        )
        return derived_id("simulator", *map(str, knobs))[:6]


@dataclass(frozen=True)
class Generated:
    """One event, and for offers and demands the body a client would POST to the gateway."""

    event: Envelope
    submission: Body | None = None  # {"kind": "offer" | "demand", "body": {...}}


# -- the generated world: suppliers and buyers --------------------------------------------------


@dataclass(frozen=True)
class _Listing:
    """A product one supplier sells, with the OCOP rating and papers it holds for it."""

    spec: ProductSpec
    stars: int
    rated_on: date | None
    certificates: tuple[str, ...]


@dataclass(frozen=True)
class _Supplier:
    org_id: str
    name: str
    kind: Kind
    place: Place
    listings: tuple[_Listing, ...]
    issues_vat_invoice: bool
    has_traceability_stamps: bool
    max_deferred_payment_days: int
    tax_code: str | None


@dataclass(frozen=True)
class _Buyer:
    org_id: str
    spec: BuyerSpec
    profile: BuyerProfile
    tax_code: str


@dataclass(frozen=True)
class _KindTraits:
    lot_factor: tuple[float, float]
    unrated: float  # probability a product has no (valid) OCOP rating
    vat: float
    traceability: float
    deferred_days: tuple[int, ...]
    papers: float  # multiplies the chance of holding each paper
    price_factor: tuple[float, float]
    id_prefix: str


_TRAITS: dict[Kind, _KindTraits] = {
    Kind.COOPERATIVE: _KindTraits(
        lot_factor=(0.4, 1.6), unrated=0.35, vat=0.65, traceability=0.6,
        deferred_days=(0, 15, 30, 30, 45), papers=1.0, price_factor=(0.95, 1.05), id_prefix="htx",
    ),
    Kind.ENTERPRISE: _KindTraits(
        lot_factor=(1.0, 3.0), unrated=0.25, vat=0.95, traceability=0.75,
        deferred_days=(30, 45, 60), papers=1.5, price_factor=(1.0, 1.1), id_prefix="dn",
    ),
    Kind.HOUSEHOLD: _KindTraits(
        lot_factor=(0.08, 0.5), unrated=0.6, vat=0.1, traceability=0.15,
        deferred_days=(0, 7, 15), papers=0.4, price_factor=(0.9, 1.0), id_prefix="hkd",
    ),
}  # fmt: skip


@dataclass
class _World:
    suppliers: list[_Supplier]
    renamed_suppliers: list[_Supplier]  # suppliers whose home has a legacy-only name
    buyers_by_kind: dict[Kind, list[_Buyer]]
    products: list[ProductSpec]
    supply_weight: dict[ProductSpec, int] = field(default_factory=dict)


def _slug(text: str) -> str:
    return "-".join(fold(text).split())


def _supplier_kinds(rng: random.Random, regions: int, per_region: int) -> list[list[Kind]]:
    """Kinds of each region's suppliers, near the national mix in every region.

    Each region gets the whole part of its quota; the leftover slots go to the kinds furthest
    below their overall share, over the regions in random order. Every subset of regions (the
    renamed provinces, say) then keeps close to the mix too.
    """
    total = sum(SUPPLIER_KIND_WEIGHTS.values())
    shares = {kind: weight / total for kind, weight in SUPPLIER_KIND_WEIGHTS.items()}
    base = {kind: int(share * per_region) for kind, share in shares.items()}
    counts = {kind: base[kind] * regions for kind in shares}
    out = [[kind for kind, n in base.items() for _ in range(n)] for _ in range(regions)]
    order = list(range(regions))
    rng.shuffle(order)
    for r in order:
        while len(out[r]) < per_region:
            placed = sum(counts.values())
            kind = max(shares, key=lambda k: shares[k] * (placed + 1) - counts[k])
            counts[kind] += 1
            out[r].append(kind)
    for kinds in out:
        rng.shuffle(kinds)
    return out


def _tax_code(rng: random.Random) -> str:
    return f"{rng.randint(1, 9)}{rng.randrange(10**9):09d}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY_NAMES)} {rng.choice(MIDDLE_NAMES)} {rng.choice(GIVEN_NAMES)}"


def _supplier_name(rng: random.Random, kind: Kind, place: Place, spec: ProductSpec) -> str:
    locality = rng.choice(place.localities)
    if kind is Kind.COOPERATIVE:
        options = [
            f"HTX {spec.trade} {locality}",
            f"HTX Nông nghiệp {locality}",
            f"HTX Dịch vụ nông nghiệp {spec.trade} {locality}",
        ]
    elif kind is Kind.ENTERPRISE:
        options = [
            f"Công ty TNHH {spec.trade} {locality}",
            f"Công ty CP Nông sản {place.legacy}",
            f"Công ty TNHH MTV {spec.trade} {place.legacy}",
        ]
    else:
        options = [f"Hộ kinh doanh {_person(rng)}", f"Hộ sản xuất {_person(rng)} ({locality})"]
    return rng.choice(options)


def _listing(rng: random.Random, spec: ProductSpec, traits: _KindTraits, today: date) -> _Listing:
    stars, rated_on = 0, None
    if rng.random() >= traits.unrated:
        # Rated OCOP products: about 74% 3 stars, 25% 4 stars, under 1% 5 stars; flagship
        # products with a geographical indication (sâm Ngọc Linh, vải thiều) rate higher.
        weights = (60, 35, 5) if spec.geographical_indication else (74, 25, 1)
        stars = rng.choices((3, 4, 5), weights=weights)[0]
        rated_on = today - timedelta(days=rng.randint(20, 1_060))  # within the 36 months
    papers = [
        code
        for code, chance in CATEGORY_CERTIFICATES.get(spec.category, ())
        if rng.random() < min(0.95, chance * traits.papers)
    ]
    if spec.geographical_indication and rng.random() < 0.5:
        papers.append("geographical-indication")
    return _Listing(spec, stars, rated_on, tuple(papers))


def _build_world(rng: random.Random, catalogue: Catalogue, today: date, seed: int) -> _World:
    """Draw the suppliers and buyers first, so the same seed always meets the same parties."""
    per_region = catalogue.suppliers_per_region
    kinds = _supplier_kinds(rng, len(catalogue.regions), per_region)
    suppliers: list[_Supplier] = []
    names: set[str] = set()
    for r, region in enumerate(catalogue.regions):
        for i in range(per_region):
            kind = kinds[r][i]
            traits = _TRAITS[kind]
            specs = [region.products[i % len(region.products)]]  # every product has sellers
            if len(region.products) > 1 and rng.random() < 0.35:
                specs.append(rng.choice([p for p in region.products if p is not specs[0]]))
            name = base = nfc(_supplier_name(rng, kind, region.place, specs[0]))
            number = 2
            while name in names:  # two "HTX Nông nghiệp Mộc Châu": number the second
                name, number = f"{base} {number}", number + 1
            names.add(name)
            suppliers.append(
                _Supplier(
                    org_id=f"sim{seed}-{traits.id_prefix}-{region.place.slug}-{i + 1:02d}",
                    name=name,
                    kind=kind,
                    place=region.place,
                    listings=tuple(_listing(rng, s, traits, today) for s in specs),
                    issues_vat_invoice=rng.random() < traits.vat,
                    has_traceability_stamps=rng.random() < traits.traceability,
                    max_deferred_payment_days=rng.choice(traits.deferred_days),
                    tax_code=None if kind is Kind.HOUSEHOLD else _tax_code(rng),
                )
            )
    buyers: dict[Kind, list[_Buyer]] = {}
    for spec in catalogue.buyers:
        buyer = _Buyer(
            f"sim{seed}-{_slug(spec.name)}", spec, catalogue.profiles[spec.kind], _tax_code(rng)
        )
        buyers.setdefault(spec.kind, []).append(buyer)
    supply: dict[ProductSpec, int] = {}
    for supplier in suppliers:
        for listing in supplier.listings:
            supply[listing.spec] = supply.get(listing.spec, 0) + 1
    return _World(
        suppliers=suppliers,
        renamed_suppliers=[s for s in suppliers if s.place.renamed],
        buyers_by_kind=buyers,
        products=[p for region in catalogue.regions for p in region.products],
        supply_weight=supply,
    )


# -- how clerks write things --------------------------------------------------------------------


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _write_place(
    rng: random.Random, name: str, *, city: bool, spellings: tuple[str, ...] = ()
) -> str:
    """A province name as typed: prefixes, no diacritics, capitals, English suffix, variants."""
    prefix = rng.choice(("TP. ", "Thành phố ", "TP ")) if city else rng.choice(("Tỉnh ", "tỉnh "))
    plain = strip_diacritics(name)
    style = rng.random()
    if spellings and style < 0.1:
        return nfc(rng.choice(spellings))
    if style < 0.45:
        return name
    if style < 0.65:
        return prefix + name
    if style < 0.8:
        return plain
    if style < 0.88:
        return ("tp " if city else "tinh ") + plain.lower()
    if style < 0.94:
        return nfc(name.upper())
    return plain + (" City" if city else " Province")


def _place_text(rng: random.Random, place: Place, legacy: bool) -> str:
    if legacy:
        return _write_place(rng, place.legacy, city=place.city, spellings=place.spellings)
    return _write_place(rng, place.current, city=place.current == "Hải Phòng")


def _write_category(rng: random.Random, code: str) -> str:
    cat = lookup_category(code)
    style = rng.random()
    if style < 0.5:
        return cat.code
    if style < 0.8:
        return cat.name_vi
    if style < 0.9:
        return strip_diacritics(cat.name_vi).lower()
    return cat.name_en


def _write_certificate(rng: random.Random, code: str) -> str:
    return rng.choice(CERTIFICATE_SPELLINGS[code])


_FACTOR = {"tan": 1000, "ta": 100, "yen": 10, "kg": 1}
_UNIT_SPELLINGS: dict[str, tuple[tuple[str, float], ...]] = {
    "tan": (("tấn", 0.8), ("tan", 0.1), ("Tấn", 0.1)),
    "ta": (("tạ", 0.85), ("ta", 0.15)),
    "yen": (("yến", 0.9), ("yen", 0.1)),
    "kg": (("kg", 0.9), ("Kg", 0.05), ("kilogram", 0.05)),
}


def _nice_amount(value: float, unit: str) -> Decimal:
    """Round the way people quote: 12.5 tấn, 35 tạ, 60 yến, 850 kg."""
    if unit == "tan":
        step = 0.5 if value < 20 else 1.0
        return Decimal(str(max(0.5, round(value / step) * step))).normalize()
    if unit == "yen" and value >= 20:
        return Decimal(max(5, round(value / 5) * 5))
    if unit == "kg" and value >= 1000:
        return Decimal(round(value / 50) * 50)
    if unit == "kg" and value >= 100:
        return Decimal(round(value / 10) * 10)
    return Decimal(max(1, round(value)))


def _quantity(rng: random.Random, kg: float, *, kg_only: bool = False) -> tuple[Body, Decimal]:
    """A weight in a unit fitting its size; returns the body and the exact kilograms."""
    if kg_only or kg < 10:
        unit = "kg"
    elif kg >= 2000:
        unit = rng.choices(("tan", "ta", "kg"), weights=(0.6, 0.25, 0.15))[0]
    elif kg >= 200:
        unit = rng.choices(("ta", "yen", "kg", "tan"), weights=(0.45, 0.15, 0.3, 0.1))[0]
    else:
        unit = rng.choices(("kg", "yen"), weights=(0.7, 0.3))[0]
    amount = _nice_amount(kg / _FACTOR[unit], unit)
    body = {"amount": f"{amount:f}", "unit": _pick(rng, _UNIT_SPELLINGS[unit])}
    return body, amount * _FACTOR[unit]


def _part_of(rng: random.Random, whole_kg: Decimal, share: tuple[float, float]) -> Body:
    """A smaller lot (minimum order or minimum lot), never above ``whole_kg``."""
    kg = max(1, int(float(whole_kg) * rng.uniform(*share)))
    if kg >= 1000 and rng.random() < 0.5:
        return {"amount": str(max(1, kg // 100)), "unit": "tạ"}
    return {"amount": str(min(kg, int(whole_kg)) or 1), "unit": "kg"}


def _round_price(value: float) -> int:
    """Two significant digits and a half step: 95,500; 27,000; 135,000,000."""
    digits = len(str(int(value)))
    step = max(500, 10 ** (digits - 2) // 2)
    return max(step, round(value / step) * step)


# -- time ---------------------------------------------------------------------------------------


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def season_window(day: date, season: tuple[int, int]) -> tuple[date, date]:
    """The harvest season containing ``day``, or else the next one (seasons may wrap the year)."""
    first, last = season
    for year in (day.year - 1, day.year, day.year + 1):
        start = date(year, first, 1)
        end = _month_end(year + (1 if last < first else 0), last)
        if end >= day:
            return start, end
    raise AssertionError("unreachable: a season recurs every year")


def _window(start: date, end: date) -> Body:
    return {"start": start.isoformat(), "end": max(start, end).isoformat()}


def _availability(rng: random.Random, spec: ProductSpec, day: date) -> Body:
    if spec.season is None:
        start = day + timedelta(days=rng.randint(0, 7))
        return _window(start, start + timedelta(days=rng.randint(30, 120)))
    season_start, season_end = season_window(day, spec.season)
    if season_start <= day:  # in season: from now to the end of the harvest
        start = day + timedelta(days=rng.randint(0, 3))
    else:  # a pre-season offer (bao tiêu): next harvest
        start = season_start + timedelta(days=rng.randint(0, 10))
    return _window(start, min(season_end, start + timedelta(days=rng.randint(20, 60))))


def _delivery(rng: random.Random, spec: ProductSpec, day: date) -> Body:
    if spec.season is not None:
        season_start, season_end = season_window(day, spec.season)
        if season_start > day:  # out of season: ordering ahead for the next harvest
            start = season_start + timedelta(days=rng.randint(5, 20))
            return _window(start, min(season_end, start + timedelta(days=rng.randint(10, 30))))
    start = day + timedelta(days=rng.randint(3, 14))
    return _window(start, start + timedelta(days=rng.randint(7, 30)))


# -- bodies -------------------------------------------------------------------------------------


def _offer_body(rng: random.Random, supplier: _Supplier, legacy: bool, day: date) -> Body:
    listing = rng.choice(supplier.listings)
    spec = listing.spec
    traits = _TRAITS[supplier.kind]
    quantity, kg = _quantity(
        rng, spec.lot_kg * rng.uniform(*traits.lot_factor), kg_only=not spec.weight_units
    )
    low, high = spec.price_per_kg  # households sell cheaper, enterprises dearer, within range
    price = _round_price(
        min(high, max(low, rng.uniform(low, high) * rng.uniform(*traits.price_factor)))
    )
    product: Body = {
        "name": spec.name + rng.choices(("", " loại 1", " loại 2"), weights=(7, 2, 1))[0],
        "category": _write_category(rng, spec.category),
        "ocop_stars": listing.stars,
        "certifications": [_write_certificate(rng, c) for c in listing.certificates],
    }
    if listing.rated_on is not None:
        product["ocop_rated_on"] = listing.rated_on.isoformat()
    body: Body = {
        "supplier_id": supplier.org_id,
        "product": product,
        "origin_province": _place_text(rng, supplier.place, legacy),
        "quantity": quantity,
        "unit_price_vnd": price,
        "available": _availability(rng, spec, day),
        "lead_time_days": rng.randint(1, 3) if spec.season else rng.randint(0, 7),
        "max_deferred_payment_days": supplier.max_deferred_payment_days,
        "issues_vat_invoice": supplier.issues_vat_invoice,
        "has_traceability_stamps": supplier.has_traceability_stamps,
    }
    if spec.bulk_priced and rng.random() < 0.2:
        body.update(unit_price_vnd=price * 100, price_unit="tạ")
    if rng.random() < 0.5:
        body["min_order"] = _part_of(rng, kg, (0.02, 0.15))
    reach = rng.random()
    if reach < 0.1:
        body["ships_to"] = ["Hải Phòng", "Hà Nội", "Quảng Ninh"]
    elif reach < 0.15:  # sells only near home: a region the Hải Phòng buyers cannot reach
        body["ships_to"] = ["TP. Hồ Chí Minh", "Đồng Nai"]
    return body


def _pick_product(rng: random.Random, world: _World, profile: BuyerProfile) -> ProductSpec:
    """Buyers ask for what the regions sell, in proportion to how many suppliers sell it."""
    allowed = [
        p for p in world.products if profile.categories is None or p.category in profile.categories
    ]
    return rng.choices(allowed, weights=[world.supply_weight.get(p, 0) for p in allowed])[0]


def _demand_body(rng: random.Random, world: _World, buyer: _Buyer, legacy: bool, day: date) -> Body:
    profile = buyer.profile
    spec = _pick_product(rng, world, profile)
    quantity, kg = _quantity(
        rng, spec.lot_kg * rng.uniform(*profile.lot_share), kg_only=not spec.weight_units
    )
    targeted = rng.random() < 0.3
    criteria: Body = {"category": _write_category(rng, spec.category)}
    if targeted:
        criteria["keywords"] = [spec.keyword]
    if rng.random() < profile.min_stars:
        criteria["min_ocop_stars"] = 3
    usual = USUAL_REQUIREMENT.get(spec.category)
    if usual and rng.random() < profile.certificate:
        criteria["required_certifications"] = [_write_certificate(rng, usual)]
    body: Body = {
        "buyer_id": buyer.org_id,
        "criteria": criteria,
        "quantity": quantity,
        "delivery_province": _place_text(rng, buyer.spec.place, legacy),
        "delivery_window": _delivery(rng, spec, day),
        "payment_terms_days": rng.choice(profile.payment_days),
        "requires_vat_invoice": rng.random() < profile.vat,
        "requires_traceability": rng.random() < profile.traceability,
        "accepts_partial": buyer.spec.kind is Kind.WHOLESALE_MARKET or rng.random() < 0.8,
    }
    if rng.random() >= 0.12:  # most buyers state a ceiling
        low, high = spec.price_per_kg
        ceiling = _round_price((low + high) / 2 * rng.uniform(*profile.ceiling_factor))
        if spec.bulk_priced and rng.random() < 0.15:
            body.update(max_unit_price_vnd=ceiling * 100, price_unit="tạ")
        else:
            body["max_unit_price_vnd"] = ceiling
    if rng.random() < 0.25:
        body["min_lot"] = _part_of(rng, kg, (0.1, 0.3))
    return body


def _organization(org_id: str, name: str, kind: Kind, province: str, tax_code: str | None) -> Body:
    body: Body = {"org_id": org_id, "name": name, "kind": kind.value, "province": province}
    if tax_code is not None:
        body["tax_code"] = tax_code
    return body


# -- the stream ---------------------------------------------------------------------------------


def generate(config: ScenarioConfig | None = None, /, **options: Any) -> Iterator[Generated]:
    """The stream of a scenario: events with their submission bodies, lazily.

    A prefix is stable: ``count=10`` yields the first ten orders of ``count=1000``.
    """
    config = replace(config or ScenarioConfig(), **options)
    rng = random.Random(config.seed)
    world = _build_world(rng, CATALOGUES[config.scenario], config.start.date(), config.seed)
    # Registrations draw from their own generator, so enabling them leaves the orders unchanged.
    org_rng = random.Random(rng.getrandbits(64))
    source, tag = config.source, config.run_tag
    share = 1.0 / (1.0 + config.offers_per_demand)
    buyer_kinds = list(world.buyers_by_kind)
    kind_weights = [world.buyers_by_kind[k][0].profile.weight for k in buyer_kinds]
    registered: set[str] = set()
    demands = 0
    moment = config.start

    def envelope(key: str) -> Body:
        # Derived from what the event is about, so adding registrations shifts no order's id.
        event_id = derived_id("simulator", config.scenario, str(config.seed), tag, key)
        return {"event_id": event_id, "occurred_at": moment.isoformat(), "source": source}

    def registration(org: Body) -> Generated:
        registered.add(org["org_id"])
        event = OrganizationRegistered.model_validate(
            {**envelope(f"organization:{org['org_id']}"), "organization": org}
        )
        return Generated(event)

    for index in range(config.count):
        if index:
            moment += timedelta(seconds=max(1, round(rng.expovariate(1.0 / config.mean_gap_s))))
        day = moment.date()
        # Demands where the running count lags the target share: random spacing, exact ratio.
        is_demand = rng.random() < (index + 1) * share - demands
        legacy = rng.random() < config.legacy_share
        if is_demand:
            demands += 1
            kind = rng.choices(buyer_kinds, weights=kind_weights)[0]
            pool = world.buyers_by_kind[kind]
            if legacy:
                pool = [b for b in pool if b.spec.place.renamed] or pool
            buyer = rng.choice(pool)
            legacy = legacy and buyer.spec.place.renamed
            if config.with_organizations and buyer.org_id not in registered:
                yield registration(
                    _organization(
                        buyer.org_id,
                        buyer.spec.name,
                        buyer.spec.kind,
                        _place_text(org_rng, buyer.spec.place, legacy),
                        buyer.tax_code,
                    )
                )
            body = _demand_body(rng, world, buyer, legacy, day)
            demand_id = f"sim{config.seed}-{tag}-d{index + 1:05d}"
            event = DemandPosted.model_validate(
                {**envelope(demand_id), "demand": {**body, "demand_id": demand_id}}
            )
            yield Generated(event, {"kind": "demand", "body": body})
        else:
            pool = world.renamed_suppliers if legacy and world.renamed_suppliers else None
            supplier = rng.choice(pool or world.suppliers)
            legacy = legacy and supplier.place.renamed
            if config.with_organizations and supplier.org_id not in registered:
                yield registration(
                    _organization(
                        supplier.org_id,
                        supplier.name,
                        supplier.kind,
                        _place_text(org_rng, supplier.place, legacy),
                        supplier.tax_code,
                    )
                )
            body = _offer_body(rng, supplier, legacy, day)
            offer_id = f"sim{config.seed}-{tag}-o{index + 1:05d}"
            event = OfferPublished.model_validate(
                {**envelope(offer_id), "offer": {**body, "offer_id": offer_id}}
            )
            yield Generated(event, {"kind": "offer", "body": body})


def events(config: ScenarioConfig | None = None, /, **options: Any) -> Iterator[Envelope]:
    """The scenario's events (pydantic models from ``schemas.events``)."""
    for item in generate(config, **options):
        yield item.event


def submission_bodies(config: ScenarioConfig | None = None, /, **options: Any) -> Iterator[Body]:
    """The same offers and demands as JSON-able gateway requests: ``{"kind", "body"}``.

    Organization registrations have no gateway endpoint, so they are not part of this stream.
    """
    for item in generate(config, **options):
        if item.submission is not None:
            yield item.submission


def scenario_names() -> list[str]:
    return sorted(CATALOGUES)
