"""README.md is what a README is for (what it is, the two commands, a short tour, links into
the documentation site): under 200 lines, and every relative link and picture in it resolves,
anchors included."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)|\b(?:src|href)=\"([^\"]+)\"")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub and the site's table of contents make it."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # no headings inside code blocks
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+?)\s*$", text, re.M)}


def relative_links(text: str):
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not checked
            yield target


def test_the_readme_is_under_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move the detail into docs/"


def test_every_relative_link_of_the_readme_resolves():
    text = README.read_text(encoding="utf-8")
    links = list(relative_links(text))
    assert len(links) >= 10
    broken = []
    for target in links:
        path, _, anchor = target.partition("#")
        file = (README.parent / path).resolve() if path else README
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert broken == [], broken


def test_the_readme_links_into_the_site():
    text = README.read_text(encoding="utf-8")
    for page in ("docs/course/index.md", "docs/notebooks/index.md", "docs/concepts/notation.md",
                 "docs/gallery.md"):
        assert f"]({page}" in text, page
    assert "make docs" in text


def test_the_link_checker_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title\n\n## Its part\n", encoding="utf-8")
    assert anchors(page) == {"a-title", "its-part"}
    text = "[a](docs/nope.md) ![b](https://example.org/x.png) [c](#here)"
    assert list(relative_links(text)) == ["docs/nope.md", "#here"]
