"""The prediction store on PostgreSQL (psycopg 3): the same SQLAlchemy code as on SQLite, and
migrations that several instances may start at the same moment."""

import os
import subprocess
import sys

import sqlalchemy as sa

from examples.serving import Settings, create_app
from examples.serving.production.migrations import current_revision, head_revision
from examples.serving.production.storage import count_rows
from examples.toolbox import REPO_ROOT

WINE = {
    "alcohol": 13.2, "malic_acid": 1.78, "ash": 2.14, "alcalinity_of_ash": 11.2,
    "magnesium": 100.0, "total_phenols": 2.65, "flavanoids": 2.76,
    "nonflavanoid_phenols": 0.26, "proanthocyanins": 1.28, "color_intensity": 4.38,
    "hue": 1.05, "od280_od315_of_diluted_wines": 3.4, "proline": 1050.0,
}  # fmt: skip


def test_three_migrators_started_together_all_succeed(database_url):
    env = {**os.environ, "SERVING_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "examples.serving", "migrate", "upgrade"]
    processes = [
        subprocess.Popen(  # noqa: S603 - our own module
            command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    engine = sa.create_engine(database_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        versions = connection.execute(sa.text("select count(*) from alembic_version")).scalar()
    assert versions == 1
    engine.dispose()


def test_the_service_stores_each_prediction_in_postgres(database_url, model_dir, tmp_path):
    settings = Settings.isolated(
        tmp_path, model_dir, train_if_missing=False, database_url=database_url
    )
    app = create_app(settings)
    client = app.test_client()
    answer = client.post("/v1/predict", json={"features": WINE})
    assert answer.status_code == 200, answer.get_json()
    batch = client.post("/v1/predict/batch", json={"instances": [WINE, WINE]})
    assert batch.status_code == 200
    engine = app.extensions["prediction_store"]
    assert count_rows(engine) == 3
    with engine.connect() as connection:
        stored = connection.execute(sa.text("select prediction_id from predictions")).scalars()
        assert answer.get_json()["prediction_id"] in set(stored)
    # A retry with the same Idempotency-Key stores nothing new, through PostgreSQL's unique key.
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post("/v1/predict", json={"features": WINE}, headers=headers)
    again = client.post("/v1/predict", json={"features": WINE}, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    assert count_rows(engine) == 4
    engine.dispose()
