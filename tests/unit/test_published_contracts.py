"""The published JSON Schemas and AsyncAPI document: fresh, valid, and version-compatible."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings

from schemas import events as ev
from schemas.compat import breaking_changes
from schemas.export import ASYNCAPI_FILE, PUBLISHED_DIR, asyncapi_document, rendered_files
from tests import strategies

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "tools" / "asyncapi-check"
BASELINE = json.loads((ROOT / "schemas" / "compat" / "v1.0.json").read_text())


def test_committed_files_are_not_stale():
    rendered = rendered_files()
    committed = {
        str(p.relative_to(PUBLISHED_DIR)): p.read_text(encoding="utf-8")
        for p in PUBLISHED_DIR.rglob("*.json")
    }
    stale = sorted(k for k in rendered.keys() | committed.keys()
                   if rendered.get(k) != committed.get(k))  # fmt: skip
    assert not stale, f"published contracts are stale, run `ketnoi schemas export`: {stale}"


def _parse_asyncapi(document: dict, tmp_path: Path) -> tuple[int, dict]:
    node = shutil.which("node")
    assert node, "Node.js is needed to run the official AsyncAPI parser"
    assert (CHECKER / "node_modules").is_dir(), (
        "run `make install` (npm ci in tools/asyncapi-check)"
    )
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = subprocess.run([node, str(CHECKER / "check.mjs"), str(path)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    return result.returncode, json.loads(result.stdout)


def test_asyncapi_document_parses_with_the_official_parser(tmp_path):
    document = json.loads((PUBLISHED_DIR / ASYNCAPI_FILE).read_text(encoding="utf-8"))
    code, summary = _parse_asyncapi(document, tmp_path)
    assert code == 0 and summary["valid"], summary["diagnostics"]
    assert summary["version"] == "3.0.0"
    assert sorted(summary["channels"]) == ["matches", "orders", "organizations", "sessions"]
    expected = {ev.event_type_name(t).replace(".", "-") for t in ev.EVENT_TYPES}
    assert set(summary["messages"]) == expected
    orders = document["channels"]["orders"]
    assert orders["bindings"]["kafka"]["partitions"] >= 1
    key = document["components"]["messages"]["offer-published"]["bindings"]["kafka"]["key"]
    assert "market" in key["description"]


def test_the_parser_check_can_fail(tmp_path):
    broken = copy.deepcopy(asyncapi_document())
    del broken["components"]["messages"]["offer-published"]  # a dangling $ref
    code, summary = _parse_asyncapi(broken, tmp_path)
    assert code == 1 and not summary["valid"]


@pytest.mark.parametrize("event_type", ev.EVENT_TYPES, ids=ev.event_type_name)
@settings(max_examples=25, deadline=None)
@given(data=strategies.st.data())
def test_event_json_validates_against_its_published_schema(event_type, data):
    schema = json.loads(
        (PUBLISHED_DIR / f"v1/{ev.event_type_name(event_type)}.schema.json").read_text()
    )
    event = data.draw(strategies.events(event_type))
    jsonschema.Draft202012Validator(schema).validate(json.loads(event.model_dump_json()))


def test_published_schema_rejects_what_the_model_rejects():
    schema = json.loads((PUBLISHED_DIR / "v1/offer.withdrawn.schema.json").read_text())
    payload = dict(BASELINE["examples"]["offer.withdrawn"], surprise=1)
    with pytest.raises(jsonschema.ValidationError, match="surprise"):
        jsonschema.Draft202012Validator(schema).validate(payload)


@pytest.mark.parametrize("name", sorted(BASELINE["examples"]))
def test_payloads_of_version_1_0_still_parse(name):
    event = ev.parse_event(json.dumps(BASELINE["examples"][name]))
    assert ev.event_type_name(type(event)) == name


def test_no_event_type_of_version_1_0_was_removed():
    assert set(BASELINE["schemas"]) <= {ev.event_type_name(t) for t in ev.EVENT_TYPES}


@pytest.mark.parametrize("name", sorted(BASELINE["schemas"]))
def test_changes_since_version_1_0_are_additive(name):
    current = json.loads((PUBLISHED_DIR / f"v1/{name}.schema.json").read_text())
    assert breaking_changes(BASELINE["schemas"][name], current) == []


def test_the_additive_check_catches_breaking_changes():
    old = BASELINE["schemas"]["offer.withdrawn"]
    new = copy.deepcopy(old)
    new["required"].append("reason")
    del new["properties"]["category"]
    new["properties"]["type"]["const"] = "offer.retracted"
    problems = breaking_changes(old, new)
    assert "reason: newly required" in problems
    assert "category: property removed" in problems
    assert any(p.startswith("type: values removed") for p in problems)


def test_the_scenario_generator_output_validates_against_the_published_schemas():
    """An independent validator (jsonschema) accepts every event `ketnoi simulate` writes."""
    from connectors.simulator import events as scenario_events

    validators = {
        ev.event_type_name(t): jsonschema.Draft202012Validator(
            json.loads((PUBLISHED_DIR / f"v1/{ev.event_type_name(t)}.schema.json").read_text())
        )
        for t in ev.EVENT_TYPES
    }
    seen: set[str] = set()
    for event in scenario_events(seed=3, count=400, with_organizations=True):
        payload = json.loads(event.model_dump_json())
        validators[payload["type"]].validate(payload)
        seen.add(payload["type"])
    assert seen == {"offer.published", "demand.posted", "organization.registered"}
