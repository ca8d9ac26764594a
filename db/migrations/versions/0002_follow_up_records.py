"""Follow-up records: timed-reply callbacks and their attempts, transcripts, survey results.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('callback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('owner_agent_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sla_met', sa.Boolean(), nullable=True),
    sa.Column('reached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], name=op.f('fk_callback_citizen_id_citizen')),
    sa.ForeignKeyConstraint(['owner_agent_id'], ['agent.id'], name=op.f('fk_callback_owner_agent_id_agent')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_callback_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback'))
    )
    op.create_index(op.f('ix_callback_citizen_id'), 'callback', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_callback_due_at'), 'callback', ['due_at'], unique=False)
    op.create_index(op.f('ix_callback_owner_agent_id'), 'callback', ['owner_agent_id'], unique=False)
    op.create_index(op.f('ix_callback_status'), 'callback', ['status'], unique=False)
    op.create_index(op.f('ix_callback_ticket_id'), 'callback', ['ticket_id'], unique=False)
    op.create_table('callback_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('callback_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=100), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_callback_attempt_agent_id_agent')),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_callback_attempt_call_id_call')),
    sa.ForeignKeyConstraint(['callback_id'], ['callback.id'], name=op.f('fk_callback_attempt_callback_id_callback')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_attempt'))
    )
    op.create_index(op.f('ix_callback_attempt_callback_id'), 'callback_attempt', ['callback_id'], unique=False)
    op.create_table('survey_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score is null or (score >= 1 and score <= 5)', name=op.f('ck_survey_result_score')),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_survey_result_call_id_call')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_survey_result_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_result'))
    )
    op.create_index(op.f('ix_survey_result_at'), 'survey_result', ['at'], unique=False)
    op.create_index(op.f('ix_survey_result_ticket_id'), 'survey_result', ['ticket_id'], unique=False)
    op.create_table('transcript',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_transcript_call_id_call')),
    sa.ForeignKeyConstraint(['recording_id'], ['call_recording.id'], name=op.f('fk_transcript_recording_id_call_recording')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript'))
    )
    op.create_index(op.f('ix_transcript_call_id'), 'transcript', ['call_id'], unique=False)
    op.create_index(op.f('ix_transcript_status'), 'transcript', ['status'], unique=False)
    op.create_table('transcript_segment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=False),
    sa.Column('speaker', sa.String(length=16), nullable=False),
    sa.Column('start_s', sa.Double(), nullable=False),
    sa.Column('end_s', sa.Double(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('confidence', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['transcript_id'], ['transcript.id'], name=op.f('fk_transcript_segment_transcript_id_transcript')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript_segment'))
    )
    op.create_index(op.f('ix_transcript_segment_transcript_id'), 'transcript_segment', ['transcript_id'], unique=False)


def downgrade() -> None:
    # Indexes go with their tables.
    op.drop_table('transcript_segment')
    op.drop_table('transcript')
    op.drop_table('survey_result')
    op.drop_table('callback_attempt')
    op.drop_table('callback')
