"""A self-contained static HTML page: inline CSS, plots as base64 data URIs, no scripts, no network."""

from __future__ import annotations

import base64
import html
import re

from .compare import Report
from .render import markdown

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1200px;
color:#1d1d1f;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem;display:block;overflow-x:auto}
th,td{border:1px solid #d0d0d5;padding:.3rem .55rem;text-align:left;white-space:nowrap}
th{background:#f3f3f6}tr:nth-child(even) td{background:#fafafc}
strong{color:#0b6b2f}img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
p,li{max-width:60rem}code{background:#f3f3f6;padding:0 .2rem}
"""


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def _markdown_to_html(md: str) -> str:
    """The subset render.markdown writes: headings, tables, bullet lists, paragraphs."""
    out: list[str] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", lines[i])[1:-1]])
                i += 1
            head, body = rows[0], rows[2:]
            out.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body]
            out.append("</tbody></table>")
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    return "\n".join(out)


def html_page(report: Report, plots: dict[str, bytes]) -> str:
    images = "\n".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name, png in plots.items()
    )
    body = _markdown_to_html(markdown(report))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>blip2-bench comparison</title>'
        f"<style>{_CSS}</style></head><body>\n{body}\n<h2>Plots</h2>\n{images}\n</body></html>\n"
    )
