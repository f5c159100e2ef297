"""A report as a list of blocks, rendered twice from the same content: Markdown (renders on
a code host, figures beside it as files) and one self-contained HTML page (figures
embedded, styles inline, no address outside the file)."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path


# Headings, paragraphs and bullets are prose with two marks, **bold** and `code`; a
# user's text inside them (an arm's name) goes through `literal`. Table cells, figure
# captions and the title are plain text, escaped by the renderers.


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&])")
_LIST_START = re.compile(r"^(\s*)([+\-*]|\d+)([.)]?\s)")
_ESCAPED = re.compile(r"\\(.)")


def literal(text: str) -> str:
    """A user's text inside prose, shown as written: "*SMOTE*" stays "*SMOTE*" rather
    than turning the rest of the sentence into italics."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: columns aligned right (numbers)
    numeric: tuple[bool, ...] = ()
    #: rows shown bold (the best arm)
    bold: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Figure:
    path: Path  # a PNG inside the report's folder
    caption: str


Block = Heading | Paragraph | Bullets | Table | Figure


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


def _prose(text: str) -> str:
    """A paragraph or bullet that starts like a list item ("+ SMOTE ...", "1. ...") is
    still a paragraph: the marker is escaped."""
    match = _LIST_START.match(text)
    if match is None:
        return text
    indent, marker, after = match.groups()
    if marker.isdigit() and not after.startswith((".", ")")):
        return text
    at = len(indent) + (len(marker) if marker.isdigit() else 0)
    return text[:at] + "\\" + text[at:]


def _md_cell(text: str) -> str:
    return literal(text).replace("\n", " ")


def to_markdown(doc: Document, folder: Path) -> str:
    """Figures are linked relative to ``folder`` (where report.md is written)."""
    out = [f"# {literal(doc.title)}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [_prose(block.text), ""]
        elif isinstance(block, Bullets):
            out += [f"- {_prose(item)}" for item in block.items] + [""]
        elif isinstance(block, Table):
            align = [("---:" if block.numeric[i] else "---") if i < len(block.numeric)
                     else "---" for i in range(len(block.header))]
            out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            out.append("|" + "|".join(align) + "|")
            for i, row in enumerate(block.rows):
                cells = [_md_cell(c) for c in row]
                if i in block.bold:
                    cells = [f"**{c}**" if c else c for c in cells]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
        elif isinstance(block, Figure):
            relative = block.path.relative_to(folder).as_posix()
            out += [f"![{block.path.stem.replace('_', ' ')}]({relative})", "",
                    f"*{literal(block.caption)}*", ""]
    return "\n".join(out).rstrip() + "\n"


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem;
     border-bottom: 1px solid #ddd; } h3 { font-size: 1.1rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; display: block;
        overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f2f2f2; } td.n { text-align: right; white-space: nowrap; }
tr.best td { font-weight: bold; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto;
         border: 1px solid #eee; } figcaption { font-size: 0.9rem; color: #444; }
"""


def to_html(doc: Document) -> str:
    """One file: the figures as data URIs, so that it opens anywhere, offline."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{e(doc.title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
           f"<h1>{e(doc.title)}</h1>"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items)
                       + "</ul>")
        elif isinstance(block, Table):
            numeric = list(block.numeric) + [False] * len(block.header)
            rows = ["<tr>" + "".join(f"<th>{e(h)}</th>" for h in block.header) + "</tr>"]
            for i, row in enumerate(block.rows):
                cells = "".join(f'<td class="n">{e(c)}</td>' if numeric[j] else f"<td>{e(c)}</td>"
                                for j, c in enumerate(row))
                rows.append(f'<tr class="best">{cells}</tr>' if i in block.bold
                            else f"<tr>{cells}</tr>")
            out.append("<table>" + "".join(rows) + "</table>")
        elif isinstance(block, Figure):
            data = base64.b64encode(block.path.read_bytes()).decode("ascii")
            out.append(f'<figure><img alt="{e(block.path.stem.replace("_", " "))}" '
                       f'src="data:image/png;base64,{data}">'
                       f"<figcaption>{e(block.caption)}</figcaption></figure>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Prose's **bold** and `code` in HTML, a `literal` character as itself; everything
    else escaped. (Unlike CommonMark, a backslash escape inside a code span is read too:
    prose never puts one there.)"""
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        kept.append(match.group(1))
        return f"\0{len(kept) - 1}\0"

    escaped = html.escape(_ESCAPED.sub(keep, text))
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)
    return re.sub("\0(\\d+)\0", lambda m: html.escape(kept[int(m.group(1))]), escaped)
