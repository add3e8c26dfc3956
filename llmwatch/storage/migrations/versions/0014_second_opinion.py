"""second opinion: the review queue, verdicts by tier, and the day's spend

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _event_id() -> sa.Column:
    return sa.Column('event_id', sa.String(128),
                     sa.ForeignKey('events.event_id', ondelete='CASCADE'), primary_key=True)


def upgrade() -> None:
    op.create_table(
        'review_queue',
        _event_id(),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('cheap', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('answered', sa.JSON(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_review_queue_status', 'review_queue', ['status'])
    op.create_table(
        'verdicts',
        _event_id(),
        sa.Column('check', sa.String(64), primary_key=True),
        sa.Column('tier', sa.String(16), primary_key=True),
        sa.Column('evaluator', sa.String(200), nullable=False),
        sa.Column('flagged', sa.Boolean(), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'review_spend',
        sa.Column('day', sa.String(10), primary_key=True),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.Column('usd', sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('review_spend')
    op.drop_table('verdicts')
    op.drop_index('ix_review_queue_status', 'review_queue')
    op.drop_table('review_queue')
