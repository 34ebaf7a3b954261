"""OCOP product groups and Ketnoi's trade sub-categories.

The six OCOP groups are fixed by decision; the sub-categories are finer, trade-oriented buckets
(coffee, honey, ...) with a default unit, so a demand for "cà phê" meets offers of
"cà phê Robusta Kon Tum" even when neither side picked a category.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from .text import compact, fold, lower_key, nfc


@dataclass(frozen=True)
class OcopGroup:
    """One of the six OCOP product groups (Decision 919/QĐ-TTg, 2022)."""

    code: str
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class Category:
    """A trade sub-category inside an OCOP group."""

    code: str
    name_vi: str
    name_en: str
    group: str
    default_unit: str
    examples: tuple[str, ...]


class UnknownCategoryError(ValueError):
    """Raised for an unrecognised category; ``allowed`` lists codes, ``suggestions`` the closest."""

    def __init__(self, input: str, allowed: list[str], suggestions: list[str]) -> None:
        self.input = input
        self.allowed = allowed
        self.suggestions = suggestions
        message = f"unknown category {input!r}"
        if suggestions:
            best = _data().by_code[suggestions[0]]
            message += f"; did you mean {best.code!r} ({best.name_vi})?"
        super().__init__(f"{message}; allowed categories: {', '.join(allowed)}")


@dataclass(frozen=True)
class _Keyword:
    exact: tuple[str, ...]  # lowercase tokens with diacritics
    folded: tuple[str, ...]


@dataclass(frozen=True)
class _Data:
    groups: tuple[OcopGroup, ...]
    categories: tuple[Category, ...]
    by_code: dict[str, Category]
    lookup: dict[str, str]  # folded (and compacted) name -> category code
    keywords: dict[str, tuple[_Keyword, ...]]


def _example_head(example: str) -> str:
    """Leading lowercase words of an example: "cà phê Arabica Sơn La" -> "cà phê"."""
    head: list[str] = []
    for word in example.split():
        if word[:1].isupper():
            break
        head.append(word)
    return " ".join(head)


@cache
def _data() -> _Data:
    raw = json.loads(files(__package__).joinpath("taxonomy.json").read_text(encoding="utf-8"))
    groups = tuple(OcopGroup(g["code"], nfc(g["name_vi"]), g["name_en"]) for g in raw["groups"])
    group_codes = {g.code for g in groups}
    categories: list[Category] = []
    lookup: dict[str, str] = {}
    keywords: dict[str, tuple[_Keyword, ...]] = {}
    for item in raw["categories"]:
        cat = Category(
            code=item["code"],
            name_vi=nfc(item["name_vi"]),
            name_en=item["name_en"],
            group=item["group"],
            default_unit=item["default_unit"],
            examples=tuple(nfc(e) for e in item["examples"]),
        )
        if cat.group not in group_codes:
            raise ValueError(f"category {cat.code!r} has unknown group {cat.group!r}")
        categories.append(cat)
        for text in (cat.code, cat.name_vi, cat.name_en, *item.get("aliases", [])):
            for key in {fold(text), compact(fold(text))}:
                if lookup.setdefault(key, cat.code) != cat.code:
                    raise ValueError(f"category name {text!r} is ambiguous")
        phrases = {nfc(k) for k in item.get("keywords", [])}
        phrases.update(h for h in map(_example_head, cat.examples) if h)
        keywords[cat.code] = tuple(
            _Keyword(tuple(lower_key(p).split()), tuple(fold(p).split())) for p in sorted(phrases)
        )
    return _Data(groups, tuple(categories), {c.code: c for c in categories}, lookup, keywords)


def ocop_groups() -> list[OcopGroup]:
    """The six OCOP product groups."""
    return list(_data().groups)


def ocop_group(code: str) -> OcopGroup:
    """Look an OCOP group up by code ("food", "beverages", ...)."""
    for group in _data().groups:
        if group.code == code or fold(group.name_vi) == fold(code):
            return group
    raise ValueError(
        f"unknown OCOP group {code!r}; allowed: {', '.join(g.code for g in _data().groups)}"
    )


def categories() -> list[Category]:
    """All trade sub-categories, in a stable order."""
    return list(_data().categories)


def category(code_or_name: str) -> Category:
    """Find a category by code, Vietnamese or English name, with or without diacritics."""
    data = _data()
    key = fold(code_or_name)
    code = data.lookup.get(key) or data.lookup.get(compact(key))
    if code is not None:
        return data.by_code[code]
    close = difflib.get_close_matches(key, list(data.lookup), n=6, cutoff=0.6) if key else []
    suggestions = list(dict.fromkeys(data.lookup[c] for c in close))[:3]
    raise UnknownCategoryError(code_or_name, [c.code for c in data.categories], suggestions)


def _find(tokens: list[str], phrase: tuple[str, ...]) -> int:
    """Start index of ``phrase`` as a contiguous token run in ``tokens``, or -1."""
    width = len(phrase)
    for start in range(len(tokens) - width + 1):
        if tuple(tokens[start : start + width]) == phrase:
            return start
    return -1


def guess_category(product_name: str) -> Category | None:
    """Best-effort category for a free-text product name, or None if nothing matches.

    Each matching keyword scores its word count, doubled when the diacritics match too (so
    "bơ" avocado and "bò" beef stay apart). Ties go to the keyword nearest the start, because
    Vietnamese names put the head noun first ("mật ong hoa cà phê" is honey).
    """
    data = _data()
    exact_tokens = lower_key(product_name).split()
    folded_tokens = fold(product_name).split()
    best: tuple[int, int, int] | None = None
    best_code: str | None = None
    for order, cat in enumerate(data.categories):
        score, first = 0, len(folded_tokens)
        for kw in data.keywords[cat.code]:
            pos = _find(exact_tokens, kw.exact)
            weight = 2
            if pos < 0:
                pos, weight = _find(folded_tokens, kw.folded), 1
            if pos >= 0:
                score += weight * len(kw.folded)
                first = min(first, pos)
        if score == 0:
            continue
        rank = (score, -first, -order)
        if best is None or rank > best:
            best, best_code = rank, cat.code
    return data.by_code[best_code] if best_code else None
