"""no credentials in the outbox: PagerDuty routing keys are added at send time

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 17:10:00

"""
import json
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, payload FROM alert_outbox WHERE sink = 'pagerduty'")).all()
    for row_id, payload in rows:
        doc = json.loads(payload) if isinstance(payload, str) else payload
        if isinstance(doc, dict) and "routing_key" in doc:
            doc.pop("routing_key")
            conn.execute(sa.text("UPDATE alert_outbox SET payload = :p WHERE id = :i")
                         .bindparams(sa.bindparam("p", type_=sa.JSON)), {"p": doc, "i": row_id})


def downgrade() -> None:
    pass  # the keys are gone for good, as intended
