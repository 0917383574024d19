"""The fast paths of the reference service give the same answers as the plain ones:
pydantic reading request bytes directly accepts only bodies json.loads + validation accepts, with
the same values; orjson writes responses that read back as what Flask's json module wrote;
the prediction writer stores what SQLAlchemy Core stores."""

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from examples.serving import json_provider
from examples.serving.errors import ApiError
from examples.serving.json_provider import OrjsonProvider
from examples.serving.production import storage
from examples.serving.schemas import build_schemas


@pytest.fixture(scope="module")
def schemas(metadata):
    return build_schemas(metadata, max_batch_size=1000)


def middle(metadata) -> dict[str, float]:
    return {
        name: (metadata.domain[name]["allowed_min"] + metadata.domain[name]["allowed_max"]) / 2
        for name in metadata.features
    }


def both_ways(model, body: bytes):
    """(fast result or None, slow result or None): None where that path refuses the body."""
    try:
        fast = model.model_validate_json(body)
    except ValidationError:
        fast = None
    try:
        slow = model.model_validate(json.loads(body))
    except (ValidationError, ValueError, RecursionError):
        slow = None
    return fast, slow


def tricky_bodies(metadata) -> list[bytes]:
    good = middle(metadata)
    name = metadata.features[0]
    as_text = json.dumps({"features": good})
    return [
        as_text.encode(),
        as_text.encode(
            "utf-16"
        ),  # json.loads reads UTF-16; pydantic refuses: the slow path decides
        b"\xef\xbb\xbf" + as_text.encode(),  # a byte order mark
        as_text.replace(f'"{name}": ', f'"{name}": NaN, "x{name}": ').encode(),
        json.dumps({"features": {**good, name: float("nan")}}).encode(),
        json.dumps({"features": {**good, name: float("inf")}}).encode(),
        json.dumps({"features": {**good, name: 10**400}}).encode(),
        json.dumps({"features": {**good, name: "1.5"}}).encode(),
        json.dumps({"features": {**good, name: True}}).encode(),
        json.dumps({"features": {**good, name: None}}).encode(),
        json.dumps({"features": {**good, "extra": 1.0}}).encode(),
        json.dumps({"features": {k: v for k, v in good.items() if k != name}}).encode(),
        json.dumps({"features": {**good, name: int(good[name])}}).encode(),  # an integer is fine
        as_text.replace(f'"{name}": ', f'"{name}": 1.0, "{name}": ').encode(),  # duplicate key
        as_text.encode() + b" trailing",
        b"[" * 5000 + b"]" * 5000,
        b"null",
        b"",
        b'{"features": "\\ud800"}',
    ]


def test_what_the_fast_way_accepts_the_slow_way_accepts_alike(metadata, schemas):
    """The service tries the fast way first and falls back to the slow one, which then decides
    (a UTF-16 body, for one, only the slow way reads). So the fast way must never accept a body
    the slow way refuses, nor read it differently."""
    accepted = 0
    for body in tricky_bodies(metadata):
        fast, slow = both_ways(schemas.prediction_request, body)
        if fast is not None:
            accepted += 1
            assert slow is not None and fast.model_dump() == slow.model_dump(), body[:80]
    assert accepted >= 3  # the plain body, the integer, the duplicate key


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_both_ways_read_every_number_the_same(metadata, schemas, data):
    row = {
        name: data.draw(
            st.floats(
                metadata.domain[name]["allowed_min"],
                metadata.domain[name]["allowed_max"],
                allow_nan=False,
            )
        )
        for name in metadata.features
    }
    body = json.dumps({"instances": [row, row]}).encode()
    fast, slow = both_ways(schemas.batch_request, body)
    assert fast is not None and fast.model_dump() == slow.model_dump()


def test_the_service_refuses_with_the_same_words_either_way(client, metadata):
    """A body the fast path refuses still gets the service's own message, naming the field."""
    name = metadata.features[0]
    body = json.dumps({"features": {**middle(metadata), name: float("nan")}})
    response = client.post("/v1/predict", data=body, content_type="application/json")
    assert response.status_code == 422
    assert (
        f"features.{name} must be a finite number, got NaN"
        in response.get_json()["error"]["message"]
    )
    response = client.post("/v1/predict", data=b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


# ---- responses written by orjson -----------------------------------------------------------


@pytest.fixture
def providers():
    app = Flask(__name__)
    plain = DefaultJSONProvider(app)
    plain.sort_keys = False
    return app, OrjsonProvider(app), plain


@pytest.mark.parametrize(
    "value",
    [
        {"prediction": "class_1", "probabilities": {"class_0": 1e-05, "class_1": 0.99999}},
        {"b": 1, "a": [1.5, -0.0, 2**53, "µ ünïcode", None, True]},
        {"big": 10**30},  # beyond 64 bits: the json module writes it
        {"when": datetime(2026, 11, 27, 12, 0, tzinfo=UTC)},  # an HTTP date, as Flask writes it
        [{"deep": {"er": [1, 2, 3]}}],
    ],
)
def test_orjson_answers_read_back_as_flasks(providers, value):
    app, fast, plain = providers
    with app.app_context():
        mine = fast.response(value)
        theirs = plain.response(value)
    assert mine.mimetype == theirs.mimetype == "application/json"
    assert json.loads(mine.get_data()) == json.loads(theirs.get_data())
    assert list(json.loads(mine.get_data())) == list(json.loads(theirs.get_data()))  # key order
    assert mine.get_data().endswith(b"\n")


def test_debug_answers_stay_indented(providers):
    app, fast, _ = providers
    app.debug = True
    with app.app_context():
        assert b'\n  "a": 1' in fast.response({"a": 1}).get_data()


def test_the_service_answers_through_orjson(app):
    assert isinstance(app.json, OrjsonProvider)


def test_a_compact_answer_is_written_by_orjson(providers, monkeypatch):
    import orjson

    app, fast, _ = providers
    calls = []
    real = orjson.dumps
    monkeypatch.setattr(orjson, "dumps", lambda *a, **k: calls.append(a) or real(*a, **k))
    with app.app_context():
        assert fast.response(a=1, b=[2.5]).get_data() == b'{"a":1,"b":[2.5]}\n'
    assert calls == [({"a": 1, "b": [2.5]},)]


def test_the_provider_uses_only_public_flask_names():
    source = Path(json_provider.__file__).read_text()
    assert "._" not in source.replace("__", "")


# ---- the prediction writer -----------------------------------------------------------------


def test_the_writer_stores_what_core_stores(tmp_path, metadata):
    engine = storage.create_storage_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    storage.metadata.create_all(engine)
    features = middle(metadata)
    probabilities = {"class_0": 0.1, "class_1": 1e-05, "class_2": 0.89999}
    row = storage.StoredPrediction("r1", "1.0.0", "class_2", probabilities, features, "alice")
    storage.store_predictions(engine, [row, row])
    with engine.begin() as connection:
        connection.execute(
            storage.predictions.insert(),
            [{"created_at": datetime.now(UTC), **row._asdict()}],
        )
        rows = connection.execute(sa.select(storage.predictions)).mappings().all()
        raw = connection.exec_driver_sql("SELECT created_at, features FROM predictions").all()
    assert len(rows) == 3
    for stored in rows:
        assert stored["features"] == features and stored["probabilities"] == probabilities
        assert (stored["client_name"], stored["request_id"]) == ("alice", "r1")
        assert isinstance(stored["created_at"], datetime)
    # The time is stored as text in SQLAlchemy's own format, whichever way the row went in.
    assert len({len(created) for created, _ in raw}) == 1
    assert all(math.isclose(json.loads(text)[n], features[n]) for _, text in raw for n in features)
    engine.dispose()


def test_after_a_failed_write_the_next_one_uses_a_fresh_connection(tmp_path):
    engine = storage.create_storage_engine(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    storage.metadata.create_all(engine)
    good = storage.StoredPrediction("r1", "1.0.0", "class_1", {"class_1": 1.0}, {"x": 1.0})
    storage.store_predictions(engine, [good])
    writer = storage.writer._writers[engine]
    first = writer._connection()
    with pytest.raises(ApiError):  # NOT NULL broken by the second row: all or nothing
        storage.store_predictions(engine, [good, storage.StoredPrediction("r2", "1", None, {}, {})])
    assert storage.count_rows(engine) == 1
    assert writer._connection() is not first
    storage.store_predictions(engine, [good])
    assert storage.count_rows(engine) == 2
    engine.dispose()


def test_the_rows_routes_read_are_the_validated_values(metadata, schemas):
    """routes.py reads vars(instance), pydantic's own dict of field values, instead of copying
    it with model_dump(): the two are equal, in the same order."""
    body = json.dumps({"instances": [middle(metadata)] * 2}).encode()
    for instance in schemas.batch_request.model_validate_json(body).instances:
        assert vars(instance) == instance.model_dump()
        assert list(vars(instance)) == list(metadata.features)
