"""one open referral per family, signal and service; follow-up and draft edits in the history

Revision ID: 5c1f0e2a9b47
Revises: e06f5f65b70d
Create Date: 2026-12-03 08:00:00.000000
"""
import uuid

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)


revision = '5c1f0e2a9b47'
down_revision = 'e06f5f65b70d'
branch_labels = None
depends_on = None

OPEN = "status IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold')"


def upgrade():
    # Two open referrals from one signal to one service (made before this guard) would stop
    # the index: name them, so they can be cancelled or marked as entered in error first.
    twice = op.get_bind().execute(sa.text(
        f"SELECT signal_id, service_id, COUNT(*) FROM referral WHERE {OPEN} "
        "GROUP BY family_id, signal_id, service_id HAVING COUNT(*) > 1")).all()
    if twice:
        raise RuntimeError(
            f"{len(twice)} signals have more than one open referral to the same service. "
            "Close all but one of each (cancel, or mark as entered in error), then upgrade "
            "again. Signal and service ids: "
            + "; ".join(f"{uuid.UUID(str(signal))} {uuid.UUID(str(service))}"
                        for signal, service, _n in twice))
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('uq_referral_open', ['family_id', 'signal_id', 'service_id'],
                              unique=True, sqlite_where=sa.text(OPEN),
                              postgresql_where=sa.text(OPEN))
    with op.batch_alter_table('referral_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('from_service_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_referral_event_from_service_id_service'),
                                    'service', ['from_service_id'], ['id'])


def downgrade():
    with op.batch_alter_table('referral_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referral_event_from_service_id_service'),
                                 type_='foreignkey')
        batch_op.drop_column('from_service_id')
        batch_op.drop_column('follow_up_on')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('uq_referral_open', sqlite_where=sa.text(OPEN),
                            postgresql_where=sa.text(OPEN))
