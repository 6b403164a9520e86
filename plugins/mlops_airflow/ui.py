"""Pages the api-server serves beside the Airflow UI, under ``/mlops`` (an Airflow 3 plugin
FastAPI app, mounted by ``plugins/mlops_ui_plugin.py``).

- ``/mlops/runbook``: the runbook every DAG's doc_md carries, as one page whose sections have
  ids, so ``/mlops/runbook#data-validation-failed`` in a failure message, a task note or an
  incident opens the right section (Airflow renders doc_md without heading ids).
- ``/mlops/files/<path>``: read-only view of the data root (reports, Data Docs, gate verdicts,
  drift reports, quarantined batches) for the extra links, when the lake is local. Paths are
  resolved and must stay inside the data root; symlinks that leave it are refused; directories
  list their entries.

Both require a signed-in Airflow user (the UI's session cookie or a bearer token).
"""

from __future__ import annotations

import html
import mimetypes
import re
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

PREFIX = "/mlops"
RUNBOOK_PATH = f"{PREFIX}/runbook"
FILES_PATH = f"{PREFIX}/files"
_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*$")


def runbook_url(section: str, base: str = "") -> str:
    """The link to a runbook section (relative to the api-server unless ``base`` is given)."""
    return f"{base.rstrip('/')}{RUNBOOK_PATH}#{section}"


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def render_runbook(markdown_text: str) -> str:
    """The runbook as HTML; every heading gets ``id=<slug>`` (``registry / no-champion`` gives
    ``registry`` and ``no-champion`` anchors, as errors name either)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    tokens = md.parse(markdown_text)
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            title = tokens[i + 1].content
            token.attrSet("id", slug(title))
    body = md.renderer.render(tokens, md.options, {})
    # Extra anchors for headings that name two sections ("registry / no-champion").
    for title in re.findall(r"^#{1,4}\s+(.+/.+?)\s*$", markdown_text, flags=re.M):
        extra = "".join(f'<a id="{slug(part)}"></a>' for part in title.split("/"))
        body = body.replace(f'<h3 id="{slug(title)}">', f'{extra}<h3 id="{slug(title)}">', 1)
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>MLOps runbook</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;line-height:1.5}"
        "h3{border-top:1px solid #ddd;padding-top:1rem}:target{background:#fff6cc}"
        "code{background:#f3f3f3;padding:0 .2rem}</style></head><body>"
        f"{body}</body></html>"
    )


def _inside(root: Path, relative: str) -> Path:
    root = root.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        raise HTTPException(status_code=404, detail="not under the data root")
    if not target.exists():
        raise HTTPException(status_code=404, detail=f"{relative} does not exist")
    return target


def _listing(root: Path, target: Path) -> str:
    rel = target.relative_to(root.resolve())
    rows = []
    for entry in sorted(target.iterdir()):
        name = entry.name + ("/" if entry.is_dir() else "")
        href = f"{FILES_PATH}/{(rel / entry.name).as_posix()}"
        size = "" if entry.is_dir() else f"{entry.stat().st_size:,} bytes"
        link = f'<a href="{html.escape(href)}">{html.escape(name)}</a>'
        rows.append(f"<tr><td>{link}</td><td>{size}</td></tr>")
    title = html.escape(f"{rel.as_posix() or '.'}/")
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head><body>"
        f"<h2>{title}</h2><table>{''.join(rows)}</table></body></html>"
    )


def create_app(runbook_markdown: str, data_root: Path) -> FastAPI:
    from airflow.api_fastapi.core_api.security import requires_authenticated

    app = FastAPI(title="MLOps pages", dependencies=[Depends(requires_authenticated())])
    page = render_runbook(runbook_markdown)

    @app.get("/runbook", response_class=HTMLResponse)
    def runbook() -> str:
        return page

    @app.get("/files/{relative:path}")
    def files(relative: str = ""):
        target = _inside(data_root, relative)
        if target.is_dir():
            return HTMLResponse(_listing(data_root, target))
        kind = mimetypes.guess_type(target.name)[0] or "text/plain"
        if target.suffix in {".json", ".jsonl", ".md", ".csv", ".log", ".txt"}:
            kind = "text/plain; charset=utf-8"
        return FileResponse(target, media_type=kind)

    @app.get("/files", response_class=HTMLResponse)
    def files_root() -> str:
        return _listing(data_root, data_root.resolve())

    return app
