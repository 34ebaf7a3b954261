"""Match ids: ``schemas.events.derived_id("match", offer, demand, n)`` without building a
``uuid.UUID`` (its constructor validates and its ``str`` formats in Python, which costs as
much as the hash). Same name-based UUID version 5, same text: tests hold them equal."""

from __future__ import annotations

from hashlib import sha1

from schemas.events import KETNOI_NAMESPACE

_NAMESPACE = KETNOI_NAMESPACE.bytes
_VERSION = ~(0xF000 << 64), 5 << 76  # clear, then set the version field
_VARIANT = ~(0xC000 << 48), 0x8000 << 48  # the RFC 4122 variant


def match_id(offer_id: str, demand_id: str, n: int) -> str:
    """The id of the pair's ``n``-th proposal (n counts from 0)."""
    name = f"match|{offer_id}|{demand_id}|{n}".encode()
    value = int.from_bytes(sha1(_NAMESPACE + name).digest()[:16])
    value = (value & _VERSION[0] | _VERSION[1]) & _VARIANT[0] | _VARIANT[1]
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
