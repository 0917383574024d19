"""Create the predictions table: one row per prediction the service returned.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("predicted_class", sa.String(32), nullable=False),
        sa.Column("probabilities", sa.JSON, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("predictions")
