"""replays: stored traffic through a candidate model, and its verdict

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 00:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'replay_runs',
        sa.Column('run_id', sa.String(64), primary_key=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('source', sa.JSON(), nullable=False),
        sa.Column('candidate', sa.JSON(), nullable=False),
        sa.Column('finding', sa.JSON(), nullable=True),
        sa.Column('verdict', sa.JSON(), nullable=True),
        sa.Column('html_gz', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'replay_calls',
        sa.Column('run_id', sa.String(64),
                  sa.ForeignKey('replay_runs.run_id', ondelete='CASCADE'), primary_key=True),
        sa.Column('source_id', sa.String(128), primary_key=True),
        sa.Column('source_timestamp', sa.DateTime(timezone=True), nullable=False),
        sa.Column('user_hash', sa.String(128), nullable=True),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('cluster', sa.String(200), nullable=False),
        sa.Column('messages', sa.JSON(), nullable=True),
        sa.Column('serving', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('candidate', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_replay_calls_source_id', 'replay_calls', ['source_id'])
    op.create_index('ix_replay_calls_source_timestamp', 'replay_calls', ['source_timestamp'])
    op.create_index('ix_replay_calls_user_hash', 'replay_calls', ['user_hash'])
    op.create_index('ix_replay_calls_status', 'replay_calls', ['status'])


def downgrade() -> None:
    op.drop_table('replay_calls')
    op.drop_table('replay_runs')
