"""drift space and event time: sampled calls' vectors in the drift space; cursors in event time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:10:00

Drift windows now follow event time, (timestamp, event_id), instead of the order calls were
stored in: the cursors and baselines that pointed at a call by its stored_at now point at the
same call by its timestamp.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'drift_vectors',
        sa.Column('event_id', sa.String(128),
                  sa.ForeignKey('events.event_id', ondelete='CASCADE'), primary_key=True),
        sa.Column('model_name', sa.String(200), nullable=False),
        sa.Column('dim', sa.Integer(), nullable=False),
        sa.Column('prompt_vector', sa.LargeBinary(), nullable=False),
        sa.Column('response_vector', sa.LargeBinary(), nullable=True),
        sa.Column('fraction', sa.Float(), nullable=False),
    )
    conn = op.get_bind()
    for table, pairs in (('drift_cursors', (('last_stored_at', 'last_event_id'),
                                            ('online_from_stored_at', 'online_from_event_id'))),
                         ('drift_baselines', (('last_stored_at', 'last_event_id'),))):
        for at, event in pairs:
            conn.execute(sa.text(
                f"UPDATE {table} SET {at} = (SELECT e.timestamp FROM events e "
                f"WHERE e.event_id = {table}.{event}) "
                f"WHERE EXISTS (SELECT 1 FROM events e WHERE e.event_id = {table}.{event})"))


def downgrade() -> None:
    op.drop_table('drift_vectors')
