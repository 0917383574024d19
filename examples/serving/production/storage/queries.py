"""Questions asked of the stored predictions: how many, and what was predicted lately."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from examples.serving.production.storage.schema import predictions


def summarize_recent(engine: sa.Engine, minutes: float = 60) -> dict:
    """Counts of the predictions made in the last `minutes`: in total, by class, by model version."""
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    recent = predictions.c.created_at >= since
    count = sa.func.count()
    with engine.connect() as connection:
        by_class = connection.execute(
            sa.select(predictions.c.predicted_class, count)
            .where(recent)
            .group_by(predictions.c.predicted_class)
        ).all()
        by_version = connection.execute(
            sa.select(predictions.c.model_version, count)
            .where(recent)
            .group_by(predictions.c.model_version)
        ).all()
    return {
        "minutes": minutes,
        "total": sum(n for _, n in by_class),
        "by_class": dict(sorted(by_class)),
        "by_model_version": dict(sorted(by_version)),
    }


def count_rows(engine: sa.Engine) -> int:
    """How many predictions the table holds."""
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one()
