"""Where the site is published: `sitemap.xml` and the 404 page's links, from `repository.url`.

The book is published on GitHub Pages from the repository that `repository.url` in `_config.yml`
names: `https://github.com/OWNER/NAME` is served at `https://OWNER.github.io/NAME/`. From that one
setting this extension derives
- `site_url`, the address `sitemap.xml` lists every page under (for search engines), and
- `notfound_urls_prefix`, the folder the 404 page (sphinx-notfound-page) links its styles, scripts
  and links from; `{prefix}` in the 404 page's body becomes that folder.
With the setting empty there is no published address: no sitemap, and the 404 page links from the
site's root, as `make preview` and `make live` serve it. A `site_url` set in `_config.yml` wins
(a custom domain, say).

The sitemap is written at the end of every build from the whole list of documents, so an
incremental build (one that rewrites only the changed pages) still lists every page. Search, index
and 404 pages are generated pages, not documents, so they are never listed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

SITEMAP_NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"


def published_address(repository_url: str) -> str:
    """GitHub Pages' address of a repository's site; "" when there is no repository."""
    if not repository_url:
        return ""
    owner, name = urlsplit(repository_url.strip()).path.strip("/").split("/")[:2]
    return f"https://{owner.lower()}.github.io/{name}/"


def site_prefix(site_url: str) -> str:
    """The folder a site is served under: '/NAME/' for a project's GitHub Pages, else '/'."""
    path = urlsplit(site_url).path if site_url else "/"
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def sitemap_xml(site_url: str, page_paths: list[str]) -> bytes:
    """The sitemap document listing `site_url` joined with each page path."""
    base = site_url.rstrip("/") + "/"
    urlset = ElementTree.Element("urlset", xmlns=SITEMAP_NAMESPACE)
    for path in page_paths:
        url = ElementTree.SubElement(urlset, "url")
        ElementTree.SubElement(url, "loc").text = base + path
    ElementTree.indent(urlset)
    return ElementTree.tostring(urlset, encoding="utf-8", xml_declaration=True)


def _published_settings(app, config) -> None:
    repository = (config.html_theme_options.get("repository_url") or "").strip().rstrip("/")
    if not config.site_url:
        config.site_url = published_address(repository)
    if "notfound_urls_prefix" not in config:  # sphinx-notfound-page is not loaded
        return
    prefix = site_prefix(config.site_url)
    config.notfound_urls_prefix = prefix
    context = dict(config.notfound_context or {})
    if "body" in context:
        context["body"] = context["body"].replace("{prefix}", prefix)
    config.notfound_context = context


def _write(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    if not app.config.site_url:  # nothing published: no sitemap, not even one from an old build
        (Path(app.outdir) / "sitemap.xml").unlink(missing_ok=True)
        return
    paths = [app.builder.get_target_uri(name) for name in sorted(app.env.found_docs)]
    (Path(app.outdir) / "sitemap.xml").write_bytes(sitemap_xml(app.config.site_url, paths))


def setup(app):
    app.add_config_value("site_url", "", "html")
    # After launch_links has read the repository setting (priority 100), before
    # sphinx-notfound-page checks its prefix (priority 500).
    app.connect("config-inited", _published_settings, priority=150)
    app.connect("build-finished", _write)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
