"""Directives for the cheat sheets whose facts come from the code, read at build time.

- ``{gunicorn-settings}``: each content line is ``name | what it means``; the command-line flag and
  the default are read from the installed gunicorn, so the table cannot drift from the version the
  book pins. A name gunicorn does not know stops the build.
- ``{service-endpoints}``: every endpoint of the reference service and every status it can answer,
  read from its OpenAPI document (``examples.serving.create_app()``, ``GET /openapi.json``). If the
  service cannot be built or the document is malformed, the build stops with the reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

SERVICE_DIR = Path(__file__).resolve().parents[2] / "examples" / "serving"
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


def _cell(content: str | nodes.Node) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(content, str):
        entry += nodes.paragraph(text=content)
    elif isinstance(content, nodes.Body):  # a block such as a list goes in as it is
        entry += content
    else:
        entry += nodes.paragraph("", "", content)
    return entry


def table(header: list[str], rows: list[list[str | nodes.Node]], widths: list[int]) -> nodes.table:
    """A docutils table with a header row; cells are text or inline nodes."""
    # "colwidths-given" makes Sphinx write the widths, so long explanations get the room.
    result = nodes.table(classes=["cheat-sheet", "colwidths-given"])
    group = nodes.tgroup(cols=len(header))
    result += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    head += nodes.row("", *[_cell(title) for title in header])
    body = nodes.tbody()
    for cells in rows:
        body += nodes.row("", *[_cell(cell) for cell in cells])
    group += head
    group += body
    return result


def _format_default(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "(none)"
    if value is None:
        return "(not set)"
    return str(value)


class GunicornSettings(SphinxDirective):
    """A table of gunicorn settings: our meaning, gunicorn's own flag and default."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        import gunicorn
        from gunicorn.config import Config

        known = Config().settings
        rows = []
        for line in self.content:
            if not line.strip():
                continue
            name, _, meaning = (part.strip() for part in line.partition("|"))
            if name not in known:
                raise self.error(f"gunicorn {gunicorn.__version__} has no setting named {name!r}")
            setting = known[name]
            flags = ", ".join(setting.cli or []) or "(config file only)"
            names = nodes.inline()
            names += nodes.literal(text=name)
            names += nodes.Text(" ")
            names += nodes.literal(text=flags)
            rows.append(
                [names, nodes.literal(text=_format_default(setting.default)), self._inline(meaning)]
            )
        note = nodes.paragraph(
            text=f"Flags and defaults as read from gunicorn {gunicorn.__version__} when this page "
            "was built."
        )
        return [note, table(["setting and flag", "default", "what it means"], rows, [4, 3, 11])]

    def _inline(self, text: str) -> nodes.Node:
        """Parse `text` as inline markup (code spans, links) in the page's own syntax."""
        parsed, messages = self.state.inline_text(text, self.lineno)
        container = nodes.inline()
        container.extend(parsed + messages)
        return container


def service_openapi() -> dict:
    """The reference service's OpenAPI document, as its own test client serves it."""
    try:
        from examples.serving import create_app

        # The service logs every request as a JSON line; the build's output is not the place.
        logging.disable(logging.INFO)
        try:
            response = create_app().test_client().get("/openapi.json")
        finally:
            logging.disable(logging.NOTSET)
    except Exception as error:  # the build must say why, whatever went wrong
        raise ExtensionError(
            f"cheat sheets: could not build the reference service to read its OpenAPI document "
            f"({type(error).__name__}: {error})"
        ) from error
    if response.status_code != 200:
        raise ExtensionError(f"cheat sheets: GET /openapi.json answered {response.status_code}")
    return response.get_json()


class ServiceEndpoints(SphinxDirective):
    """Every endpoint of the reference service, with the statuses it documents."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        document = service_openapi()
        # Re-read this page whenever the service's code changes.
        for source in sorted(SERVICE_DIR.rglob("*.py")):  # production/ features included
            self.env.note_dependency(str(source))
        try:
            rows = []
            for path, operations in document["paths"].items():
                for method, operation in operations.items():
                    if method not in HTTP_METHODS:
                        continue
                    statuses = nodes.bullet_list()
                    for status, answer in sorted(operation["responses"].items()):
                        line = nodes.paragraph()
                        line += nodes.strong(text=status)
                        line += nodes.Text(f" {answer.get('description', '')}")
                        statuses += nodes.list_item("", line)
                    rows.append(
                        [
                            nodes.literal(text=f"{method.upper()} {path}"),
                            operation.get("summary", ""),
                            statuses,
                        ]
                    )
            info = document["info"]
        except (KeyError, AttributeError, TypeError) as error:
            raise ExtensionError(
                f"cheat sheets: the OpenAPI document is malformed: {error!r}"
            ) from error
        intro = nodes.paragraph(
            text=f"{info.get('title', 'The service')}, API version {info.get('version', '?')}, "
            f"OpenAPI {document.get('openapi', '?')}: read from the service when this page was "
            "built."
        )
        result = [
            intro,
            table(["endpoint", "what it does", "statuses it answers"], rows, [4, 6, 8]),
        ]
        error_shape = self._error_shape(document)
        if error_shape:
            result.append(error_shape)
        return result

    @staticmethod
    def _error_shape(document: dict) -> nodes.Node | None:
        """The fields of the error body every failure carries, when the document names them."""
        schemas = document.get("components", {}).get("schemas", {})
        body = schemas.get("ErrorBody")
        if not body:
            return None
        fields = body.get("properties", {})
        required = set(body.get("required", []))
        rows = [
            [
                nodes.literal(text=f"error.{name}"),
                spec.get("type", "object" if "$ref" in spec else "any"),
                "yes" if name in required else "no",
                spec.get("description", ""),
            ]
            for name, spec in fields.items()
        ]
        intro = nodes.paragraph(text="Every error answer has the same JSON shape:")
        container = nodes.container()
        container += intro
        container += table(["field", "type", "always there", "meaning"], rows, [3, 2, 2, 8])
        return container


def setup(app):
    app.add_directive("gunicorn-settings", GunicornSettings)
    app.add_directive("service-endpoints", ServiceEndpoints)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
