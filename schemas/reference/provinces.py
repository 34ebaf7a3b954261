"""Vietnamese provinces after the 2025 merger (63 legacy provinces -> 34 current units).

Catalogues written before mid-2025 use the legacy names, new data the current units. Everything
that matches by place must first normalise to the current unit, but keep the legacy name so
that a buyer still sees "vải thiều Bắc Giang" rather than a bare "Bắc Ninh".
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from .text import compact, fold, nfc

# Folded prefixes/suffixes that add nothing to the name ("Tỉnh Đắk Nông", "TP. Cần Thơ",
# "Lam Dong Province"). Longer prefixes first, so "thanh pho" wins over "t".
_PREFIXES = ("thanh pho ", "tinh ", "tp ", "t ")
_SUFFIXES = (" province", " city")
_EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Province:
    """A current (post-2025) province-level unit."""

    code: str
    name: str
    english: str
    lat: float
    lon: float
    members: tuple[str, ...]

    @property
    def merged(self) -> bool:
        """True when the unit absorbed other legacy provinces."""
        return len(self.members) > 1


@dataclass(frozen=True)
class ProvinceMatch:
    """Result of ``normalise_province``: the current unit plus the legacy name, if any."""

    province: Province
    legacy_name: str | None
    input: str


class UnknownProvinceError(ValueError):
    """Raised for a name that matches no current or legacy province; carries suggestions."""

    def __init__(self, input: str, suggestions: list[str], message: str | None = None) -> None:
        self.input = input
        self.suggestions = suggestions
        super().__init__(message or _unknown_message(input, suggestions))


@dataclass(frozen=True)
class _Index:
    provinces: tuple[Province, ...]
    by_code: dict[str, Province]
    legacy: tuple[str, ...]
    exact: dict[str, tuple[str, str | None]]
    compact: dict[str, tuple[str, str | None]]
    # folded candidate -> display name for suggestions (legacy or current name)
    suggest: dict[str, str]
    legacy_to_current: dict[str, str]


def _add(
    table: dict[str, tuple[str, str | None]], key: str, target: tuple[str, str | None]
) -> None:
    """Insert a lookup key, refusing silent collisions between different provinces."""
    if not key:
        raise ValueError("empty province alias in provinces.json")
    previous = table.setdefault(key, target)
    if previous != target:
        raise ValueError(f"province alias {key!r} is ambiguous: {previous} vs {target}")


@cache
def _index() -> _Index:
    raw = json.loads(files(__package__).joinpath("provinces.json").read_text(encoding="utf-8"))
    provinces: list[Province] = []
    exact: dict[str, tuple[str, str | None]] = {}
    suggest: dict[str, str] = {}
    legacy: list[str] = []
    legacy_to_current: dict[str, str] = {}
    for unit in raw["units"]:
        province = Province(
            code=unit["code"],
            name=nfc(unit["name"]),
            english=unit["english"],
            lat=float(unit["lat"]),
            lon=float(unit["lon"]),
            members=tuple(nfc(m) for m in unit["members"]),
        )
        provinces.append(province)
        current = (province.code, None)
        for text in (province.name, province.english, province.code, *unit["aliases"]):
            _add(exact, fold(text), current)
        suggest.setdefault(fold(province.name), province.name)
        suggest.setdefault(fold(province.english), province.name)
        for member in province.members:
            legacy.append(member)
            legacy_to_current[member] = province.name
            if fold(member) == fold(province.name):
                continue  # "Bắc Ninh" names the current unit itself
            target = (province.code, member)
            _add(exact, fold(member), target)
            suggest.setdefault(fold(member), member)
            for alias in unit["legacy_aliases"].get(member, []):
                _add(exact, fold(alias), target)
    compact_table: dict[str, tuple[str, str | None]] = {}
    for key, found in exact.items():
        _add(compact_table, compact(key), found)
    return _Index(
        provinces=tuple(provinces),
        by_code={p.code: p for p in provinces},
        legacy=tuple(legacy),
        exact=exact,
        compact=compact_table,
        suggest=suggest,
        legacy_to_current=legacy_to_current,
    )


def _strip_affixes(key: str) -> str:
    """Remove administrative prefixes/suffixes from a folded key, repeatedly."""
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                key, changed = key[len(prefix) :], True
        for suffix in _SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key, changed = key[: -len(suffix)], True
    return key


def _unknown_message(input: str, suggestions: list[str]) -> str:
    base = f"unknown province {input!r}"
    if not suggestions:
        return f"{base}; expected one of the 34 current units or the 63 legacy provinces"
    best = suggestions[0]
    current = _index().legacy_to_current.get(best, best)
    note = f" (now part of {current})" if current != best else ""
    return f"{base}; did you mean {best!r}{note}?"


def _suggestions(key: str) -> list[str]:
    table = _index().suggest
    matches = difflib.get_close_matches(key, list(table), n=6, cutoff=0.6)
    seen: list[str] = []
    for match in matches:
        name = table[match]
        if name not in seen:
            seen.append(name)
    return seen[:3]


def normalise_province(text: str) -> ProvinceMatch:
    """Map any current, legacy, English or abbreviated name to the current unit."""
    index = _index()
    key = fold(text)
    candidates = [key, _strip_affixes(key)] if key else []
    for candidate in candidates:
        hit = index.exact.get(candidate) or index.compact.get(compact(candidate))
        if hit is not None:
            code, legacy_name = hit
            return ProvinceMatch(index.by_code[code], legacy_name, text)
    stripped = _strip_affixes(key) if key else ""
    raise UnknownProvinceError(text, _suggestions(stripped) if stripped else [])


def current_provinces() -> list[Province]:
    """The 34 current units, in a stable north-to-south-ish order."""
    return list(_index().provinces)


def legacy_province_names() -> list[str]:
    """The 63 legacy (pre-2025-07-01) province names, grouped by current unit."""
    return list(_index().legacy)


def province_by_code(code: str) -> Province:
    """Look a current unit up by its stable slug (e.g. "lam-dong")."""
    by_code = _index().by_code
    try:
        return by_code[code]
    except KeyError:
        close = difflib.get_close_matches(str(code), list(by_code), n=3)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownProvinceError(
            str(code), close, f"unknown province code {code!r}{hint}"
        ) from None


def distance_km(a: Province, b: Province) -> float:
    """Great-circle (haversine) distance between two administrative centres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))
