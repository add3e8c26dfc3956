"""content hashes: a reused id with other content is a conflict, not a silent replay

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 16:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    for table in ('events', 'feedback'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('content_hash', sa.String(64), nullable=True))


def downgrade() -> None:
    for table in ('events', 'feedback'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('content_hash')
