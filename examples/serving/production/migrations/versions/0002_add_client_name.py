"""Record who asked for each prediction (the API key's or user's name), and index the time column.

Revision ID: 0002
Revises: 0001

Rows stored before this migration keep client_name empty (NULL): we cannot know it afterwards.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("predictions", sa.Column("client_name", sa.String(64), nullable=True))
    # "the last N minutes" queries filter on created_at: an index spares a full scan.
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_predictions_created_at", table_name="predictions")
    # SQLite cannot drop a column in every version; batch mode copies the table without it.
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("client_name")
