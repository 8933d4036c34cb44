"""Docs that must follow the code, checked without a server.

docs/architecture.md lists every source file under "## Files", one "### `src/<folder>/`"
section per folder: a file added, moved or renamed without its line there fails here.
"""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARCH = REPO / "docs" / "architecture.md"


def _files_sections():
    """{folder: text of its section} of architecture.md's "## Files" part."""
    text = ARCH.read_text(encoding="utf-8")
    start = text.find("\n## Files\n")
    assert start >= 0, "docs/architecture.md has no '## Files' section"
    part = text[start + len("\n## Files\n"):]
    nxt = re.search(r"^## ", part, re.M)
    part = part[:nxt.start()] if nxt else part
    sections = {}
    heads = list(re.finditer(r"^### `src/([a-z_]+)/`\s*$", part, re.M))
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(part)
        sections[h.group(1)] = part[h.end():end]
    return sections


def test_architecture_names_every_source_file():
    sections = _files_sections()
    missing = []
    for src in sorted((REPO / "src").rglob("*.c")):
        rel = src.relative_to(REPO / "src")
        folder = rel.parts[0] if len(rel.parts) > 1 else ""
        if not re.search(r"`%s`" % re.escape(src.name), sections.get(folder, "")):
            missing.append(str(rel))
    assert not missing, ("docs/architecture.md, section Files, does not name: " + ", ".join(missing) +
                         " (add a line `- `name.c`: its job.` under its folder)")


def test_architecture_sections_are_folders():
    for folder in _files_sections():
        assert (REPO / "src" / folder).is_dir(), f"docs/architecture.md lists src/{folder}/, which is gone"
