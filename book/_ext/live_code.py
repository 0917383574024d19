"""Live code against the reader's own kernel, and a link to the chapter in the reader's Jupyter Lab.

- Every chapter page names its notebook in a ``<meta name="book-notebook">`` tag and loads
  ``live-code.js``. That script shows a "Live code" button only when the page was served by
  ``make live`` (tools/live.py), which tells it where the local Jupyter server is; on a plain
  site it does nothing, so there is never a dead button. thebe itself is served by ``make live``
  from the copy it fetched from npm, never from a CDN.
- sphinx-thebe's own settings and loader (an unrelated Binder repository, thebe 0.8 from a CDN)
  are removed from every page.
- Every chapter's launch menu links the chapter in the Jupyter Lab that ``make lab`` starts on
  ``http://127.0.0.1:LAB_PORT`` (8888 unless the Makefile's LAB_PORT says otherwise).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from docutils import nodes

STATIC = Path(__file__).parent / "live_static"


def notebook_path(app, pagename: str) -> str | None:
    """The chapter's notebook, relative to the repository root; None for a page that is not one."""
    if pagename not in app.env.all_docs:
        return None
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb":
        return None
    return source.relative_to(app.srcdir).as_posix()


def _drop_sphinx_thebe_config(app, doctree, docname) -> None:
    """Remove what sphinx-thebe (loaded by Jupyter Book) writes into every page.

    Its thebe settings name an unrelated Binder repository and its loader names thebe 0.8 on a
    CDN; neither is used here (live-code.js brings its own settings and thebe), so neither ships.
    """
    for node in list(doctree.findall(nodes.raw)):
        text = node.astext()
        if "text/x-thebe-config" in text or text.startswith("<script>kernelName"):
            node.parent.remove(node)


def _is_sphinx_thebe(asset) -> bool:
    body = getattr(asset, "attributes", {}).get("body") or ""
    return "sphinx-thebe" in str(getattr(asset, "filename", asset)) or "THEBE_JS_URL" in body


def _drop_sphinx_thebe_assets(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_sphinx_thebe(asset)]


def _static_path(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def _page(app, pagename, templatename, context, doctree) -> None:
    notebook = notebook_path(app, pagename)
    if notebook is None:
        return
    context["metatags"] = context.get("metatags", "") + (
        f'\n<meta name="book-notebook" content="{escape(notebook)}">'
    )
    in_lab = notebook.removeprefix(f"{app.config.live_lab_root}/")
    link = {
        "type": "link",
        "text": "Jupyter Lab (make lab)",
        "tooltip": "Open this chapter in your Jupyter Lab: run make lab first",
        "icon": "fas fa-flask",
        "label": "open-in-lab-button",
        "url": f"http://127.0.0.1:{app.config.live_lab_port}/lab/tree/{in_lab}",
    }
    buttons = context.get("header_buttons")
    if buttons is None:
        return
    group = next((group for group in buttons if group.get("label") == "launch-buttons"), None)
    if group is None:
        group = {
            "type": "group",
            "tooltip": "Run this chapter",
            "icon": "fas fa-rocket",
            "buttons": [],
            "label": "launch-buttons",
        }
        buttons.insert(0, group)
    group["buttons"].append(link)


def setup(app):
    app.add_config_value("live_lab_port", 8888, "html")
    app.add_config_value("live_lab_root", "notebooks", "html")
    app.connect("builder-inited", _static_path)
    app.add_js_file("live-code.js")
    app.add_css_file("live-code.css")
    # After the theme's header buttons (priority 501) exist.
    app.connect("html-page-context", _page, priority=600)
    app.connect("html-page-context", _drop_sphinx_thebe_assets, priority=600)
    app.connect("doctree-resolved", _drop_sphinx_thebe_config, priority=900)
    # Bumping env_version makes Sphinx rebuild every page once, so no page keeps an old header.
    return {"env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
