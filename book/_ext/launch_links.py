"""Binder and Colab links only when they can work: when `repository.url` in `_config.yml` is set.

The repository URL is the one setting. Unset (the default), the theme builds no launch links at
all. Set to a public GitHub repository, each chapter gets:

- a Binder link; Binder builds its image from `binder/` (Python version, the pinned requirements
  and `-e .`), and a chapter that needs a program Binder's image lacks (nginx, chromium) says so
  in a note at the top of the page;
- a Colab link to the chapter's *downloadable copy* on the branch the site is published from
  (`_sources/notebooks/NN_x.ipynb` on `gh-pages` by default). That copy's first cell installs the
  book's package when it is missing (book/_ext/code_archive.py writes it); the repository's own
  notebook does not have that cell, so Colab must not open it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
LAUNCH_KEYS = ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url", "jupyterlite_url")
# What a chapter's code needs that Binder's image (repo2docker, no root, no apt.txt) does not have,
# recognised from the chapter's code cells.
NEEDS = {
    "nginx": re.compile(r"\brun_nginx\(|which\(\s*[\"']nginx"),
    "chromium": re.compile(r"which\(\s*[\"']chromium"),
    "PostgreSQL": re.compile(r"\binitdb\b|\bpg_ctl\b"),
    "Redis": re.compile(r"redis-server"),
    "wrk": re.compile(r"which\(\s*[\"']wrk|/usr/bin/wrk"),
    "R": re.compile(r"\bRscript\b"),
}


def repository_url(app) -> str:
    """The repository setting (`repository.url` in `_config.yml`), stripped; "" when unset."""
    return (app.config.html_theme_options.get("repository_url") or "").strip().rstrip("/")


def _configure(app, config) -> None:
    options = config.html_theme_options
    launch = dict(options.get("launch_buttons") or {})
    url = (options.get("repository_url") or "").strip().rstrip("/")
    if not url:
        # Without a repository the theme would crash or build links to nowhere: drop them all.
        for key in LAUNCH_KEYS:
            launch.pop(key, None)
        options.pop("repository_url", None)
    elif not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"repository.url must be https://github.com/OWNER/NAME, not {url!r}")
    else:
        options["repository_url"] = url
    launch["thebe"] = False  # live code is book/_ext/live_code.py, against the reader's kernel
    options["launch_buttons"] = launch


def chapter_needs(source: Path) -> list[str]:
    """The programs from NEEDS that a notebook's code cells call for."""
    cells = json.loads(source.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return [name for name, pattern in NEEDS.items() if pattern.search(code)]


def _binder_note(app, doctree) -> None:
    if not repository_url(app) or not app.config.html_theme_options.get("launch_buttons", {}).get(
        "binderhub_url"
    ):
        return
    source = Path(app.env.doc2path(app.env.docname))
    if source.suffix != ".ipynb":
        return
    needs = chapter_needs(source)
    if not needs:
        return
    note = nodes.note(classes=["binder-note"])
    note += nodes.paragraph(
        text=f"On Binder, the cells of this chapter that start {', '.join(needs)} fail: "
        "Binder's image does not have these programs, and you cannot install them there without "
        "root. "
        "Run the chapter on your own machine for those cells (see the setup page)."
    )
    sections = list(doctree.findall(nodes.section))
    if sections:
        title = sections[0].next_node(nodes.title)
        sections[0].insert(sections[0].index(title) + 1, note)


def colab_notebook_url(app, pagename: str) -> str:
    """Colab's address of the published, downloadable copy of a chapter."""
    owner, name = repository_url(app).split("github.com/")[1].split("/")[:2]
    colab = app.config.html_theme_options["launch_buttons"]["colab_url"].rstrip("/")
    branch = app.config.launch_colab_branch
    return f"{colab}/github/{owner}/{name}/blob/{branch}/_sources/{pagename}.ipynb"


def _rewrite_colab(app, pagename, templatename, context, doctree) -> None:
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            if button.get("text") == "Colab":
                button["url"] = colab_notebook_url(app, pagename)


def setup(app):
    app.add_config_value("launch_colab_branch", "gh-pages", "html")
    app.connect("config-inited", _configure, priority=100)
    app.connect("doctree-read", _binder_note)
    # After the theme's launch buttons (priority 501).
    app.connect("html-page-context", _rewrite_colab, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
