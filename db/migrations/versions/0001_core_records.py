"""Core records: organisation, citizens, agents, tickets and events, directory, calls and bridges.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent')),
    sa.UniqueConstraint('code', name=op.f('uq_agent_code'))
    )
    op.create_table('citizen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen')),
    sa.UniqueConstraint('phone', name=op.f('uq_citizen_phone'))
    )
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('response_time_limit_hours', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind in ('partner', 'utility')", name=op.f('ck_department_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('code', name=op.f('uq_department_code'))
    )
    op.create_table('grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('level in (1, 2)', name=op.f('ck_grid_level')),
    sa.ForeignKeyConstraint(['parent_id'], ['grid.id'], name=op.f('fk_grid_parent_id_grid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid')),
    sa.UniqueConstraint('code', name=op.f('uq_grid_code'))
    )
    op.create_index(op.f('ix_grid_parent_id'), 'grid', ['parent_id'], unique=False)
    op.create_table('ticket_sequence',
    sa.Column('day', sa.String(length=8), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_ticket_sequence'))
    )
    op.create_table('agent_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('login_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('logout_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_agent_session_agent_id_agent')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_session'))
    )
    op.create_index(op.f('ix_agent_session_agent_id'), 'agent_session', ['agent_id'], unique=False)
    op.create_table('agent_state_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_agent_state_change_agent_id_agent')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_state_change'))
    )
    op.create_index(op.f('ix_agent_state_change_agent_id'), 'agent_state_change', ['agent_id'], unique=False)
    op.create_index(op.f('ix_agent_state_change_at'), 'agent_state_change', ['at'], unique=False)
    op.create_table('grid_worker',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_grid_worker_grid_id_grid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_worker'))
    )
    op.create_index(op.f('ix_grid_worker_grid_id'), 'grid_worker', ['grid_id'], unique=False)
    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('confirmed_by', sa.String(length=50), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_incident_grid_id_grid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident'))
    )
    op.create_table('municipal_hotline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('fallback_numbers', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('service_hours', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('pinyin_initials', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_municipal_hotline_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_municipal_hotline')),
    sa.UniqueConstraint('number', name=op.f('uq_municipal_hotline_number'))
    )
    op.create_index(op.f('ix_municipal_hotline_department_id'), 'municipal_hotline', ['department_id'], unique=False)
    op.create_index(op.f('ix_municipal_hotline_name'), 'municipal_hotline', ['name'], unique=False)
    op.create_index(op.f('ix_municipal_hotline_pinyin_initials'), 'municipal_hotline', ['pinyin_initials'], unique=False)
    op.create_table('ticket',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('promised_reply_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], name=op.f('fk_ticket_citizen_id_citizen')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_ticket_department_id_department')),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_ticket_grid_id_grid')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_ticket_incident_id_incident')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['ticket.id'], name=op.f('fk_ticket_merged_into_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket')),
    sa.UniqueConstraint('number', name=op.f('uq_ticket_number'))
    )
    op.create_index(op.f('ix_ticket_category'), 'ticket', ['category'], unique=False)
    op.create_index(op.f('ix_ticket_channel'), 'ticket', ['channel'], unique=False)
    op.create_index('ix_ticket_citizen_created', 'ticket', ['citizen_id', 'created_at'], unique=False)
    op.create_index('ix_ticket_citizen_status', 'ticket', ['citizen_id', 'status'], unique=False)
    op.create_index(op.f('ix_ticket_created_at'), 'ticket', ['created_at'], unique=False)
    op.create_index(op.f('ix_ticket_department_id'), 'ticket', ['department_id'], unique=False)
    op.create_index(op.f('ix_ticket_grid_id'), 'ticket', ['grid_id'], unique=False)
    op.create_index(op.f('ix_ticket_incident_id'), 'ticket', ['incident_id'], unique=False)
    op.create_index('ix_ticket_kind_category_created', 'ticket', ['kind', 'category', 'created_at'], unique=False)
    op.create_index(op.f('ix_ticket_status'), 'ticket', ['status'], unique=False)
    op.create_table('call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uniqueid', sa.String(length=64), nullable=False),
    sa.Column('linkedid', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('caller_number', sa.String(length=20), nullable=True),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queue_wait_s', sa.Double(), nullable=True),
    sa.Column('talk_s', sa.Double(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('hangup_cause', sa.Integer(), nullable=True),
    sa.Column('hungup_by', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_call_agent_id_agent')),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], name=op.f('fk_call_citizen_id_citizen')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_call_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call')),
    sa.UniqueConstraint('uniqueid', name=op.f('uq_call_uniqueid'))
    )
    op.create_index(op.f('ix_call_agent_id'), 'call', ['agent_id'], unique=False)
    op.create_index(op.f('ix_call_citizen_id'), 'call', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_call_linkedid'), 'call', ['linkedid'], unique=False)
    op.create_index(op.f('ix_call_started_at'), 'call', ['started_at'], unique=False)
    op.create_index(op.f('ix_call_ticket_id'), 'call', ['ticket_id'], unique=False)
    op.create_table('ticket_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=50), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_event_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_event'))
    )
    op.create_index(op.f('ix_ticket_event_ticket_id'), 'ticket_event', ['ticket_id'], unique=False)
    op.create_table('bridge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('hotline_id', sa.Integer(), nullable=True),
    sa.Column('room', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_bridge_call_id_call')),
    sa.ForeignKeyConstraint(['hotline_id'], ['municipal_hotline.id'], name=op.f('fk_bridge_hotline_id_municipal_hotline')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_bridge_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bridge'))
    )
    op.create_index(op.f('ix_bridge_call_id'), 'bridge', ['call_id'], unique=False)
    op.create_index(op.f('ix_bridge_ticket_id'), 'bridge', ['ticket_id'], unique=False)
    op.create_table('call_recording',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.CheckConstraint("direction in ('citizen', 'agent', 'mix', 'room')", name=op.f('ck_call_recording_direction')),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_call_recording_call_id_call')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_recording'))
    )
    op.create_index(op.f('ix_call_recording_call_id'), 'call_recording', ['call_id'], unique=False)
    op.create_table('bridge_participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bridge_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=100), nullable=True),
    sa.Column('number_dialled', sa.String(length=20), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.CheckConstraint("role in ('citizen', 'agent', 'department')", name=op.f('ck_bridge_participant_role')),
    sa.ForeignKeyConstraint(['bridge_id'], ['bridge.id'], name=op.f('fk_bridge_participant_bridge_id_bridge')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bridge_participant'))
    )
    op.create_index(op.f('ix_bridge_participant_bridge_id'), 'bridge_participant', ['bridge_id'], unique=False)


def downgrade() -> None:
    # Indexes go with their tables.
    op.drop_table('bridge_participant')
    op.drop_table('call_recording')
    op.drop_table('bridge')
    op.drop_table('ticket_event')
    op.drop_table('call')
    op.drop_table('ticket')
    op.drop_table('municipal_hotline')
    op.drop_table('incident')
    op.drop_table('grid_worker')
    op.drop_table('agent_state_change')
    op.drop_table('agent_session')
    op.drop_table('ticket_sequence')
    op.drop_table('grid')
    op.drop_table('department')
    op.drop_table('citizen')
    op.drop_table('agent')
