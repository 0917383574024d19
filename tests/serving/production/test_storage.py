"""Every prediction stored before the answer leaves; a locked database answers 503 and recovers;
the schema is built and evolved by migrations."""

import time
import uuid

import pytest
import sqlalchemy as sa

from examples.serving.production import storage
from examples.serving.production.migrations import (
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from examples.serving.production.migrations.cli import main as migrations_main
from tests.sqlite_lock import exclusive_lock


@pytest.fixture
def database_path(tmp_path):
    return tmp_path / "var" / "predictions.sqlite3"


@pytest.fixture
def app_and_engine(mini_app, database_path):
    engine = storage.init_app(mini_app, f"sqlite:///{database_path}", busy_timeout_ms=200)
    yield mini_app, engine
    engine.dispose()


def test_a_prediction_is_a_row_before_the_answer(app_and_engine):
    app, engine = app_and_engine
    client = app.test_client()
    response = client.post("/v1/predict", json={})
    assert response.status_code == 200
    with engine.connect() as connection:
        [row] = connection.execute(sa.select(storage.predictions)).mappings().all()
    assert row["predicted_class"] == "class_0"
    assert row["features"]["alcohol"] == 13.2
    assert row["probabilities"]["class_0"] == 0.8
    assert row["model_version"] == "1.0.0"
    assert len(row["request_id"]) == 32
    assert uuid.UUID(row["prediction_id"])  # the fake route gave none: a random UUID


def test_each_stored_row_has_the_id_the_client_received(tmp_path, model_dir):
    from examples.serving import Settings, create_app

    app = create_app(Settings.isolated(tmp_path, model_dir=model_dir))
    engine = app.extensions["prediction_store"]
    row = {"alcohol": 13.2, "malic_acid": 1.8, "ash": 2.4, "alcalinity_of_ash": 17.0,
           "magnesium": 100.0, "total_phenols": 2.5, "flavanoids": 2.5,
           "nonflavanoid_phenols": 0.3, "proanthocyanins": 1.6, "color_intensity": 5.0,
           "hue": 1.0, "od280_od315_of_diluted_wines": 2.8, "proline": 1000.0}  # fmt: skip
    body = app.test_client().post("/v1/predict/batch", json={"instances": [row] * 3}).get_json()
    sent = [item["prediction_id"] for item in body["predictions"]]
    with engine.connect() as connection:
        stored = connection.execute(sa.select(storage.predictions.c.prediction_id)).scalars().all()
    assert sorted(stored) == sorted(sent) and len(set(sent)) == 3
    engine.dispose()


def test_a_batch_is_stored_in_one_transaction(app_and_engine):
    app, engine = app_and_engine
    app.test_client().post("/v1/predict/batch", json={})
    assert storage.count_rows(engine) == 3
    summary = storage.summarize_recent(engine, minutes=5)
    assert summary["total"] == 3
    assert summary["by_class"] == {"class_0": 1, "class_1": 2}
    assert summary["by_model_version"] == {"1.0.0": 3}


def test_a_locked_database_gives_a_prompt_503_then_recovers(app_and_engine, database_path):
    app, engine = app_and_engine
    client = app.test_client()
    with exclusive_lock(database_path) as started:
        response = client.post("/v1/predict", json={})
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert waited < 2.0
    assert storage.count_rows(engine) == 0
    assert client.post("/v1/predict", json={}).status_code == 200
    assert storage.count_rows(engine) == 1


def test_failed_requests_store_nothing(app_and_engine):
    app, engine = app_and_engine
    app.test_client().get("/boom")
    assert storage.count_rows(engine) == 0


def test_sqlite_connections_use_wal_and_a_busy_timeout(app_and_engine):
    _, engine = app_and_engine
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200


def test_migrations_create_then_evolve_the_table(tmp_path):
    engine = storage.create_storage_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    upgrade(engine, "0001")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("predictions")}
    assert "client_name" not in columns
    with engine.begin() as connection:  # a row written under the old schema
        connection.exec_driver_sql(
            "INSERT INTO predictions (created_at, request_id, model_version, predicted_class, "
            "probabilities, features) VALUES ('2026-01-01 00:00:00', 'r1', '1.0.0', 'class_2', "
            "'{}', '{}')"
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision() == "0004"
    inspector = sa.inspect(engine)
    assert {"client_name", "prediction_id"} <= {
        c["name"] for c in inspector.get_columns("predictions")
    }
    indexes = {i["name"] for i in inspector.get_indexes("predictions")}
    assert {"ix_predictions_created_at", "ix_predictions_prediction_id"} <= indexes
    assert inspector.has_table("idempotency_keys")
    assert storage.count_rows(engine) == 1  # the old row survived, with an id of its own
    with engine.connect() as connection:
        [old_id] = connection.execute(sa.select(storage.predictions.c.prediction_id)).scalars()
    assert old_id.startswith("legacy-")
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not sa.inspect(engine).has_table("predictions")


def test_the_migrations_command(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("SERVING_DATABASE_URL", url)
    assert migrations_main(["upgrade"]) == 0
    assert "is at revision 0004" in capsys.readouterr().out
    assert migrations_main(["downgrade", "0001"]) == 0
    assert "is at revision 0001" in capsys.readouterr().out
    assert migrations_main(["current"]) == 0
    assert migrations_main(["history"]) == 0
    with pytest.raises(SystemExit):
        migrations_main(["downgrade"])


def test_the_table_matches_the_migrations(tmp_path):
    """The Table in storage.py and the migrations describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = storage.create_storage_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), storage.metadata)
    assert differences == []


def test_a_read_only_database_gives_503(mini_app, database_path):
    writable = storage.create_storage_engine(f"sqlite:///{database_path}")
    upgrade(writable)
    writable.dispose()
    # SQLite's own read-only mode: file permissions would not stop a test running as root.
    url = f"sqlite:///file:{database_path}?mode=ro&uri=true"
    engine = storage.init_app(mini_app, url, migrate=False)
    response = mini_app.test_client().post("/v1/predict", json={})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    engine.dispose()


def test_checkpoints_happen_in_a_background_thread(tmp_path):
    """Requests' connections leave checkpoints to the thread (sqlite_checkpoints.py): 300 stored
    rows stay in the -wal log until the thread copies them into the database file."""
    from examples.serving.production import sqlite_checkpoints

    path = tmp_path / "c.sqlite3"
    engine = storage.create_storage_engine(f"sqlite:///{path}")
    storage.metadata.create_all(engine)
    with engine.connect() as connection:
        autocheckpoint = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert autocheckpoint == sqlite_checkpoints.SAFETY_NET_PAGES
    assert str(path) in sqlite_checkpoints._paths
    row = storage.StoredPrediction("r", "1.0.0", "class_1", {"class_1": 1.0}, {"x": 1.0})
    before = path.stat().st_size
    for _ in range(300):
        storage.store_predictions(engine, [row])
    deadline = time.monotonic() + 10
    while path.stat().st_size <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.stat().st_size > before  # the pages reached the database file
    engine.dispose()


def test_a_deleted_database_is_no_longer_checkpointed(tmp_path):
    from examples.serving.production import sqlite_checkpoints

    gone = tmp_path / "gone.sqlite3"
    sqlite_checkpoints.watch(gone)
    sqlite_checkpoints.checkpoint_once({})
    assert str(gone) not in sqlite_checkpoints._paths
    assert not gone.exists()  # never created by the checkpointer


def test_the_checkpoint_thread_starts_with_the_first_write_not_before(tmp_path):
    """gunicorn's master opens the database before forking: no thread may run there yet."""
    import subprocess
    import sys

    script = f"""
import threading
from examples.serving.production import storage
from examples.serving.production.migrations import upgrade
running = lambda: any(t.name == "sqlite-checkpoints" for t in threading.enumerate())
engine = storage.create_storage_engine("sqlite:///{tmp_path / "t.sqlite3"}")
upgrade(engine)
print(running())
storage.store_predictions(engine, [storage.StoredPrediction("r", "1", "c", {{}}, {{}})])
print(running())
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]
