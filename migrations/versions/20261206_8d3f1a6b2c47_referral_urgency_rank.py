"""The referral keeps its signal's urgency as the inbox orders it, with an index for the
inbox's default order: a partner's inbox is paged through the index instead of sorting every
referral the organisation ever received, and counted from the index alone

Revision ID: 8d3f1a6b2c47
Revises: 5c2e9a7d4b18
Create Date: 2026-12-06 19:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '8d3f1a6b2c47'
down_revision = '5c2e9a7d4b18'
branch_labels = None
depends_on = None

# As referral.referrals.models.URGENCY_RANK was when this was written.
RANK = ("CASE (SELECT urgency FROM signal WHERE signal.id = referral.signal_id) "
        "WHEN 'urgent' THEN 0 WHEN 'soon' THEN 1 ELSE 2 END")


def upgrade():
    op.add_column('referral', sa.Column('urgency_rank', sa.Integer(), nullable=False,
                                        server_default='2'))
    op.execute(f"UPDATE referral SET urgency_rank = {RANK}")
    op.create_index('ix_referral_inbox', 'referral',
                    ['organisation_id', 'urgency_rank', 'requested_at', 'id', 'by_inbox',
                     'status'])


def downgrade():
    op.drop_index('ix_referral_inbox', table_name='referral')
    with op.batch_alter_table('referral') as batch:
        batch.drop_column('urgency_rank')
