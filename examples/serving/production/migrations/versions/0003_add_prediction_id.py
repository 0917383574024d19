"""Give every stored prediction its own id, the one the client receives in the response.

Revision ID: 0003
Revises: 0002

The request id cannot be a key: every row of a batch shares it, and a client may send the same
one twice. Rows stored before this migration get "legacy-<row number>", which is unique too.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("predictions", sa.Column("prediction_id", sa.String(64), nullable=True))
    op.execute("UPDATE predictions SET prediction_id = 'legacy-' || id WHERE prediction_id IS NULL")
    # Batch mode: SQLite cannot make a column NOT NULL in place, so Alembic copies the table.
    with op.batch_alter_table("predictions") as batch:
        batch.alter_column("prediction_id", existing_type=sa.String(64), nullable=False)
    op.create_index("ix_predictions_prediction_id", "predictions", ["prediction_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_predictions_prediction_id", table_name="predictions")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("prediction_id")
