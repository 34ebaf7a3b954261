"""The versioning rule, enforced: within a major version, changes to an event are additive.

Compares an event's JSON Schema with the one frozen at the first release of the major version
(``schemas/compat/v1.0.json``). Breaking: a property removed, a field newly required, a type
changed, an allowed value (enum/const) removed. Additive: new optional fields, new event types.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = root.get("$defs", {})[name]
    return schema


def _variants(schema: Schema, root: Schema) -> list[Schema]:
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [v for s in schema[key] for v in _variants(s, root)]
    return [schema]


def _values(schema: Schema) -> set[Any] | None:
    if "const" in schema:
        return {schema["const"]}
    if "enum" in schema:
        return set(schema["enum"])
    return None


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What a consumer of ``new`` would refuse that a producer of ``old`` may send."""
    problems: list[str] = []
    _compare(old, old, new, new, "", problems, seen=set())
    return problems


def _compare(
    old: Schema, old_root: Schema, new: Schema, new_root: Schema, path: str,
    problems: list[str], seen: set[tuple[int, int]],
) -> None:  # fmt: skip
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if (id(old), id(new)) in seen:
        return
    seen.add((id(old), id(new)))
    old_variants, new_variants = _variants(old, old_root), _variants(new, new_root)
    if len(old_variants) > 1 or len(new_variants) > 1:
        old_types = {v.get("type") for v in old_variants}
        new_types = {v.get("type") for v in new_variants}
        if missing := old_types - new_types:
            problems.append(
                f"{path or '(event)'}: no longer accepts type(s) {sorted(map(str, missing))}"
            )
        for ov in old_variants:
            for nv in new_variants:
                if ov.get("type") == nv.get("type") and ov.get("type") == "object":
                    _compare(ov, old_root, nv, new_root, path, problems, seen)
        return
    if old.get("type") != new.get("type") and old.get("type") is not None:
        problems.append(f"{path or '(event)'}: type changed {old.get('type')} -> {new.get('type')}")
        return
    old_values, new_values = _values(old), _values(new)
    if old_values is not None and new_values is not None and old_values - new_values:
        problems.append(f"{path}: values removed {sorted(map(str, old_values - new_values))}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            problems.append(f"{path}.{name}".lstrip(".") + ": property removed")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"{path}.{name}".lstrip(".") + ": newly required")
    for name in old_props.keys() & new_props.keys():
        _compare(old_props[name], old_root, new_props[name], new_root,
                 f"{path}.{name}".lstrip("."), problems, seen)  # fmt: skip
    if "items" in old and "items" in new:
        _compare(old["items"], old_root, new["items"], new_root, f"{path}[]", problems, seen)
