"""Reference data: provinces (63 legacy -> 34 current), units, OCOP taxonomy, certifications.

All lookups fold text first (see ``text.fold``), so input with or without Vietnamese
diacritics, in any case, meets the same entry.
"""

from .certifications import (
    CERTIFICATION_LABELS,
    Certification,
    UnknownCertificationError,
    parse_certification,
)
from .provinces import (
    Province,
    ProvinceMatch,
    UnknownProvinceError,
    current_provinces,
    distance_km,
    legacy_province_names,
    normalise_province,
    province_by_code,
)
from .taxonomy import (
    Category,
    OcopGroup,
    UnknownCategoryError,
    categories,
    category,
    guess_category,
    ocop_group,
    ocop_groups,
)
from .text import fold, nfc
from .units import (
    ALLOWED_UNITS,
    UNITS,
    Unit,
    UnitConversionError,
    UnitKind,
    UnknownUnitError,
    convert,
    parse_unit,
    price_per_kg,
    to_kg,
)

__all__ = [
    "ALLOWED_UNITS",
    "CERTIFICATION_LABELS",
    "UNITS",
    "Category",
    "Certification",
    "OcopGroup",
    "Province",
    "ProvinceMatch",
    "Unit",
    "UnitConversionError",
    "UnitKind",
    "UnknownCategoryError",
    "UnknownCertificationError",
    "UnknownProvinceError",
    "UnknownUnitError",
    "categories",
    "category",
    "convert",
    "current_provinces",
    "distance_km",
    "fold",
    "guess_category",
    "legacy_province_names",
    "nfc",
    "normalise_province",
    "ocop_group",
    "ocop_groups",
    "parse_certification",
    "parse_unit",
    "price_per_kg",
    "province_by_code",
    "to_kg",
]
