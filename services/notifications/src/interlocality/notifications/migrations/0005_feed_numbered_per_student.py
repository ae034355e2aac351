"""feed numbered per student

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_sequence",
        sa.Column("student_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("student_id"),
    )
    with op.batch_alter_table("feed_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=True))
    # The events held keep their ids (their positions rise within each student's feed), so
    # a stream resuming after one of them misses nothing and repeats nothing; a student's
    # next events are numbered after their last.
    op.execute("UPDATE feed_event SET sequence = position")
    op.execute(
        "INSERT INTO feed_sequence (student_id, last) "
        "SELECT student_id, MAX(sequence) FROM feed_event GROUP BY student_id"
    )
    with op.batch_alter_table("feed_event", schema=None) as batch_op:
        batch_op.alter_column("sequence", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index("ix_feed_event_student_position")
        batch_op.create_index(
            "ix_feed_event_student_sequence", ["student_id", "sequence"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_event", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_event_student_sequence")
        batch_op.create_index(
            "ix_feed_event_student_position", ["student_id", "position"], unique=False
        )
        batch_op.drop_column("sequence")
    op.drop_table("feed_sequence")
