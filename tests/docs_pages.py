"""The user documentation as tests read it: README.md and the pages of docs/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def page(name: str) -> str:
    """One page: ``README.md`` or a file of docs/ (``ci.md``)."""
    return (ROOT / name if name == "README.md" else DOCS / name).read_text()


def all_pages() -> dict[str, str]:
    """README.md and every docs/ page, by name."""
    pages = {"README.md": page("README.md")}
    pages.update({p.name: p.read_text() for p in sorted(DOCS.glob("*.md"))})
    return pages
