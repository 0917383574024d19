"""Write `sitemap.xml`: the address of every page of the book, for search engines.

Written at the end of every build from the whole list of documents, so an incremental build (one
that rewrites only the changed pages) still lists every page. Search, index and 404 pages are
generated pages, not documents, so they are never listed. `site_url` is where the site is published.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

SITEMAP_NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"


def sitemap_xml(site_url: str, page_paths: list[str]) -> bytes:
    """The sitemap document listing `site_url` joined with each page path."""
    base = site_url.rstrip("/") + "/"
    urlset = ElementTree.Element("urlset", xmlns=SITEMAP_NAMESPACE)
    for path in page_paths:
        url = ElementTree.SubElement(urlset, "url")
        ElementTree.SubElement(url, "loc").text = base + path
    ElementTree.indent(urlset)
    return ElementTree.tostring(urlset, encoding="utf-8", xml_declaration=True)


def _write(app, exception) -> None:
    if exception is not None or app.builder.format != "html" or not app.config.site_url:
        return
    paths = [app.builder.get_target_uri(name) for name in sorted(app.env.found_docs)]
    (Path(app.outdir) / "sitemap.xml").write_bytes(sitemap_xml(app.config.site_url, paths))


def setup(app):
    app.add_config_value("site_url", "", "html")
    app.connect("build-finished", _write)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
