"""Reading a request's body: JSON that Flask parses, then validated by a pydantic model.

Every failure becomes an ApiError (errors.py), so the client gets the service's one error shape.
"""

from __future__ import annotations

import json

from flask import Request, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from examples.serving.errors import ApiError, from_validation_error


class JsonRequest(Request):
    """Flask's request, whose JSON failures raise our errors instead of an HTML page."""

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if self.content_length is None and limit is not None and len(data) >= limit:
            # A chunked body has no Content-Length, so Werkzeug cuts it at the limit and returns
            # the first `limit` bytes as if they were all. One more byte means it was larger.
            if self.environ["wsgi.input"].read(1):
                raise RequestEntityTooLarge()
        return data.decode(errors="replace") if as_text else data

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            # Python's parser gives up on nesting deeper than about a thousand levels, with an
            # error that is not a ValueError, so Flask would let it become a 500.
            raise ApiError(
                400,
                "The request body is not valid JSON: it is nested too deeply.",
                code="invalid_json",
            ) from None

    def on_json_loading_failed(self, e: ValueError | None):
        if e is None:
            # RFC 9110 section 15.5.16: a 415 may say, in Accept, which media types would do.
            raise ApiError(
                415,
                "Send the body as JSON with the header Content-Type: application/json.",
                headers={"Accept": "application/json"},
            )
        if isinstance(e, json.JSONDecodeError):  # says where the text stops being JSON
            raise ApiError(400, f"The request body is not valid JSON: {e}.", code="invalid_json")
        # Any other ValueError (a number of thousands of digits, ...) has Python's own wording,
        # which would tell the client about the server's internals.
        raise ApiError(
            400,
            "The request body is not valid JSON: it holds a value that cannot be read.",
            code="invalid_json",
        )


def validated_body(model: type[BaseModel]) -> BaseModel:
    """The request's JSON body as an instance of `model`, or an ApiError saying what is wrong.

    Only the request's validation becomes a 422: a ValidationError anywhere else is our bug (500).
    """
    if request.is_json:
        # The fast path: pydantic reads the bytes and validates in one pass, in Rust, three times
        # faster than json.loads followed by validation on a 1,000-row batch. A body it refuses
        # goes the slow way below, which decides, and words the problem as every error is worded
        # (tests/serving/test_speed_paths.py checks that whatever the fast way accepts, the slow
        # way accepts too, with the same values).
        try:
            return model.model_validate_json(request.get_data())
        except ValidationError:
            pass
    try:
        return model.model_validate(request.get_json())
    except ValidationError as error:
        raise from_validation_error(error) from None
