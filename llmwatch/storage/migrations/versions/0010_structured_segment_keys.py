"""structured segment keys

Segment keys were the four names joined by '/', which broke on real model ids
(`meta-llama/Llama-3.1-8B-Instruct`); they are now JSON arrays of the four names. This
migration widens the columns that hold keys, converts the keys stored by earlier versions
(those that split cleanly into four parts; '-' meant no value) and recomputes the
fingerprints derived from them, so firing alerts and open tickets carry on. Alert states
also record what they are about (detector, metric).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:40:00

"""
import hashlib
import json
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEYED = ('findings', 'drift_baselines', 'drift_cursors', 'alert_states', 'alert_silences',
         'tickets', 'alert_episodes')
DRIFT = ('embedding_drift', 'online_drift', 'version_change')


def _new_key(old: str | None) -> str | None:
    if old is None or old.startswith('['):
        return old
    parts = old.split('/')
    if len(parts) != 4:
        return old  # a name with '/' in it: ambiguous, and it never worked; left as it was
    values = [None if p == '-' else p for p in parts]
    return json.dumps(values, ensure_ascii=False, separators=(',', ':'))


def _fingerprint(detector: str, segment: str, metric: str) -> str:
    return hashlib.sha256(f'{detector}\x1f{segment}\x1f{metric}'.encode()).hexdigest()[:20]


def upgrade() -> None:
    for table in KEYED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('segment', type_=sa.String(2000),
                               existing_nullable=table == 'alert_silences')
    with op.batch_alter_table('drift_baselines') as batch:
        batch.alter_column('lineage', type_=sa.String(1000), existing_nullable=False)
    with op.batch_alter_table('alert_states') as batch:
        batch.add_column(sa.Column('detector', sa.String(100), nullable=True))
        batch.add_column(sa.Column('metric', sa.String(200), nullable=True))

    conn = op.get_bind()
    # fingerprints of alerts (known from their episodes) and tickets, old → new
    moved: dict[str, str] = {}
    for fp, detector, segment, metric in conn.execute(sa.text(
            'SELECT DISTINCT fingerprint, detector, segment, metric FROM alert_episodes')):
        family = 'embedding_drift' if detector == 'online_drift' else detector
        moved[fp] = _fingerprint(family, _new_key(segment), metric)
    for fp, detector, segment, metric in conn.execute(sa.text(
            'SELECT fingerprint, detector, segment, metric FROM tickets')):
        problem = 'drift' if detector in DRIFT else metric
        moved[fp] = _fingerprint('ticket', _new_key(segment), problem)
    for table in KEYED:
        for (old,) in conn.execute(sa.text(f'SELECT DISTINCT segment FROM {table}')).all():
            new = _new_key(old)
            if new != old:
                conn.execute(sa.text(f'UPDATE {table} SET segment = :new WHERE segment = :old'),
                             {'new': new, 'old': old})
    for segment, in conn.execute(sa.text('SELECT segment FROM drift_baselines')).all():
        if segment.startswith('['):
            app, model = json.loads(segment)[:2]
            lineage = json.dumps([app, model], ensure_ascii=False, separators=(',', ':'))
            conn.execute(sa.text('UPDATE drift_baselines SET lineage = :l WHERE segment = :s'),
                         {'l': lineage, 's': segment})
    for old, new in moved.items():
        if old == new:
            continue
        for table in ('alert_states', 'alert_episodes', 'tickets'):
            conn.execute(sa.text(f'UPDATE {table} SET fingerprint = :new '
                                 'WHERE fingerprint = :old'), {'new': new, 'old': old})
        episode = conn.execute(sa.text(
            'SELECT detector, metric FROM alert_episodes WHERE fingerprint = :fp LIMIT 1'),
            {'fp': new}).first()
        if episode is not None:
            conn.execute(sa.text('UPDATE alert_states SET detector = :d, metric = :m '
                                 'WHERE fingerprint = :fp'),
                         {'d': episode[0], 'm': episode[1], 'fp': new})


def downgrade() -> None:
    with op.batch_alter_table('alert_states') as batch:
        batch.drop_column('metric')
        batch.drop_column('detector')
