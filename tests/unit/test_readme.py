"""The README works from a clone alone: no link leaves the repository, and it says how to stop
everything it starts."""

from __future__ import annotations

import re

import pytest

from ketnoi.settings import PROJECT_ROOT

DOCS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_no_link_leaves_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../" not in text, f"{doc.name} points outside the repository"
    for target in _LINK.findall(text):
        if target.startswith("#"):
            continue
        assert not re.match(r"^[a-z]+:", target), f"{doc.name} links outside: {target}"
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(PROJECT_ROOT) and path.exists(), f"{doc.name}: {target}"


def test_the_readme_says_how_to_stop_everything():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Stop everything", 1)[1].split("\n## ", 1)[0]
    for step in ("Ctrl-C", "make infra-down", "make infra-prune"):
        assert step in section


def test_the_readme_states_first_run_time_and_disk():
    quick_start = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").split("## Quick")[1]
    quick_start = quick_start.split("\n## ", 1)[0]
    assert re.search(r"\d+ min", quick_start) and re.search(r"\d(\.\d)? GB", quick_start)
