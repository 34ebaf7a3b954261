"""Re-import is a sync: what each row of a file changes on the platform.

A row's identity is (organization, source, key): the key is the row's key column (a product
code), or, without one, the hash of its content, so an edited row without a key is a new item
(the old one is withdrawn only with ``--withdraw-missing``). What the source published before
is in the ledger (``connectors/ledger.py``), each item with the fingerprint of the row it came
from:

- a row whose key the ledger lacks is created;
- a row whose fingerprint differs is updated (``offer.updated`` / ``demand.updated``);
- an equal fingerprint is unchanged: nothing is sent, the row is not even checked again;
- the first row with a key is the item: a later row with the same key is refused;
- with ``--withdraw-missing``, an item whose key no row has is withdrawn (a demand is
  cancelled); a row that is in the file but refused leaves its item as it was;
- two items on the platform with one key (an import interrupted between the gateway's answer
  and the ledger, long enough ago that its idempotency record expired) keep the oldest; the
  others are withdrawn when the ledger is rebuilt from the platform.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from connectors.ledger import Entry


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


def decide(key: str, fingerprint: str, known: Mapping[str, Entry]) -> Action:
    stored = known.get(key)
    if stored is None:
        return Action.CREATE
    return Action.UNCHANGED if stored.fingerprint == fingerprint else Action.UPDATE


def missing(known: Mapping[str, Entry], present: set[str]) -> list[Entry]:
    """The items no row of the file has any more (present: every key read, refused or not)."""
    return [entry for key, entry in known.items() if key not in present]


def from_platform(
    items: Iterable[Mapping[str, Any]], id_field: str, party_field: str
) -> tuple[dict[str, Entry], list[Entry]]:
    """The ledger's entries from the API's listing of a source, and the extra copies of a key
    (all but the oldest id) to withdraw."""
    entries: dict[str, Entry] = {}
    copies: list[Entry] = []
    for item in sorted(items, key=lambda i: i[id_field]):
        ref = item.get("external_ref") or {}
        if not ref.get("key"):
            continue
        entry = Entry(ref["key"], item[id_field], ref.get("fingerprint"), item.get(party_field))
        if entry.key in entries:
            copies.append(entry)
        else:
            entries[entry.key] = entry
    return entries, copies
