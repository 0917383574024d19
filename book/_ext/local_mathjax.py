"""Serve MathJax from the site itself, copied from an installed registry package at build time.

Sphinx loads MathJax from a CDN by default; a reader offline would see raw TeX. PyPI's
jupyter-server-mathjax ships MathJax 2.7, so we copy its files into the built site.
"""

import shutil
from pathlib import Path

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"


def _mathjax_source() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _configure(app) -> None:
    app.config.mathjax_path = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"


def _copy(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        if not target.exists():
            shutil.copytree(
                _mathjax_source(), target, ignore=shutil.ignore_patterns("*.md", "LICENSE")
            )


def setup(app):
    app.connect("builder-inited", _configure)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
