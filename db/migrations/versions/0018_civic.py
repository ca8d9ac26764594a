"""Residents' hearings and public-welfare projects (hotline/civic): council topics linked to
their tickets, organisations and their members (the organisation role), project proposals
(申领制) with progress and photos, applications (申报制) and their reviewers' scores.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import BATCH

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_ROLES_BEFORE = ("role in ('agent', 'supervisor', 'admin', 'liaison', 'grid_worker', "
                 "'dispatcher', 'leader')")
_ROLES_AFTER = ("role in ('agent', 'supervisor', 'admin', 'liaison', 'grid_worker', "
                "'dispatcher', 'leader', 'organisation')")


def _set_role_check(expression: str) -> None:
    with op.batch_alter_table("console_user", **BATCH) as batch:
        batch.drop_constraint(op.f("ck_console_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_console_user_role"), expression)


def upgrade() -> None:
    _set_role_check(_ROLES_AFTER)
    op.create_table('civic_organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_civic_organisation')),
    sa.UniqueConstraint('code', name=op.f('uq_civic_organisation_code'))
    )
    op.create_table('project_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('budget', sa.Integer(), nullable=False),
    sa.Column('benefit', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('submitted_by', sa.String(length=50), nullable=False),
    sa.Column('submitted_at', _TS, nullable=False),
    sa.Column('subsidy_ratio', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=50), nullable=True),
    sa.Column('decided_at', _TS, nullable=True),
    sa.CheckConstraint('subsidy_ratio is null or (subsidy_ratio >= 0 and subsidy_ratio <= 100)', name=op.f('ck_project_application_subsidy_ratio')),
    sa.ForeignKeyConstraint(['organisation_id'], ['civic_organisation.id'], name=op.f('fk_project_application_organisation_id_civic_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_application'))
    )
    with op.batch_alter_table('project_application', schema=None, **BATCH) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_application_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_application_status'), ['status'], unique=False)

    op.create_table('project_proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('area', sa.String(length=100), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('citizens', sa.Integer(), nullable=False),
    sa.Column('estimated_cost', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=50), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('claimed_by', sa.String(length=50), nullable=True),
    sa.Column('claimed_at', _TS, nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('finished_at', _TS, nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['civic_organisation.id'], name=op.f('fk_project_proposal_organisation_id_civic_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_proposal'))
    )
    with op.batch_alter_table('project_proposal', schema=None, **BATCH) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_proposal_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_proposal_status'), ['status'], unique=False)

    op.create_table('application_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=50), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('at', _TS, nullable=False),
    sa.CheckConstraint('score >= 0 and score <= 100', name=op.f('ck_application_review_score')),
    sa.ForeignKeyConstraint(['application_id'], ['project_application.id'], name=op.f('fk_application_review_application_id_project_application')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_review'))
    )
    with op.batch_alter_table('application_review', schema=None, **BATCH) as batch_op:
        batch_op.create_index('ix_application_review_reviewer', ['application_id', 'reviewer'], unique=True)

    op.create_table('civic_member',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['civic_organisation.id'], name=op.f('fk_civic_member_organisation_id_civic_organisation')),
    sa.ForeignKeyConstraint(['user_id'], ['console_user.id'], name=op.f('fk_civic_member_user_id_console_user')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_civic_member'))
    )
    with op.batch_alter_table('civic_member', schema=None, **BATCH) as batch_op:
        batch_op.create_index(batch_op.f('ix_civic_member_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('project_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('at', _TS, nullable=False),
    sa.Column('actor', sa.String(length=50), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['project_proposal.id'], name=op.f('fk_project_progress_proposal_id_project_proposal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_progress'))
    )
    with op.batch_alter_table('project_progress', schema=None, **BATCH) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_progress_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('project_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('progress_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['progress_id'], ['project_progress.id'], name=op.f('fk_project_photo_progress_id_project_progress')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_photo'))
    )
    with op.batch_alter_table('project_photo', schema=None, **BATCH) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_photo_progress_id'), ['progress_id'], unique=False)

    op.create_table('council_topic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('council', sa.String(length=100), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=50), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('noticed_at', _TS, nullable=True),
    sa.Column('notice_until', _TS, nullable=True),
    sa.Column('meeting_at', _TS, nullable=True),
    sa.Column('meeting_place', sa.String(length=200), nullable=True),
    sa.Column('participants', sa.Text(), nullable=True),
    sa.Column('minutes', sa.Text(), nullable=True),
    sa.Column('decisions', sa.Text(), nullable=True),
    sa.Column('met_at', _TS, nullable=True),
    sa.Column('report', sa.Text(), nullable=True),
    sa.Column('reported_at', _TS, nullable=True),
    sa.Column('reported_by', sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_council_topic_incident_id_incident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_council_topic'))
    )
    with op.batch_alter_table('council_topic', schema=None, **BATCH) as batch_op:
        batch_op.create_index(batch_op.f('ix_council_topic_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_council_topic_status'), ['status'], unique=False)

    op.create_table('council_topic_ticket',
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('told', sa.String(length=24), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_council_topic_ticket_ticket_id_ticket')),
    sa.ForeignKeyConstraint(['topic_id'], ['council_topic.id'], name=op.f('fk_council_topic_ticket_topic_id_council_topic')),
    sa.PrimaryKeyConstraint('topic_id', 'ticket_id', name=op.f('pk_council_topic_ticket'))
    )
    with op.batch_alter_table('council_topic_ticket', schema=None, **BATCH) as batch_op:
        batch_op.create_index(batch_op.f('ix_council_topic_ticket_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('project_proposal_ticket',
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['project_proposal.id'], name=op.f('fk_project_proposal_ticket_proposal_id_project_proposal')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_project_proposal_ticket_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('proposal_id', 'ticket_id', name=op.f('pk_project_proposal_ticket'))
    )
    with op.batch_alter_table('project_proposal_ticket', schema=None, **BATCH) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_proposal_ticket_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('project_proposal_ticket', schema=None, **BATCH) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_proposal_ticket_ticket_id'))

    op.drop_table('project_proposal_ticket')
    with op.batch_alter_table('council_topic_ticket', schema=None, **BATCH) as batch_op:
        batch_op.drop_index(batch_op.f('ix_council_topic_ticket_ticket_id'))

    op.drop_table('council_topic_ticket')
    with op.batch_alter_table('council_topic', schema=None, **BATCH) as batch_op:
        batch_op.drop_index(batch_op.f('ix_council_topic_status'))
        batch_op.drop_index(batch_op.f('ix_council_topic_category'))

    op.drop_table('council_topic')
    with op.batch_alter_table('project_photo', schema=None, **BATCH) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_photo_progress_id'))

    op.drop_table('project_photo')
    with op.batch_alter_table('project_progress', schema=None, **BATCH) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_progress_proposal_id'))

    op.drop_table('project_progress')
    with op.batch_alter_table('civic_member', schema=None, **BATCH) as batch_op:
        batch_op.drop_index(batch_op.f('ix_civic_member_organisation_id'))

    op.drop_table('civic_member')
    with op.batch_alter_table('application_review', schema=None, **BATCH) as batch_op:
        batch_op.drop_index('ix_application_review_reviewer')

    op.drop_table('application_review')
    with op.batch_alter_table('project_proposal', schema=None, **BATCH) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_proposal_status'))
        batch_op.drop_index(batch_op.f('ix_project_proposal_category'))

    op.drop_table('project_proposal')
    with op.batch_alter_table('project_application', schema=None, **BATCH) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_application_status'))
        batch_op.drop_index(batch_op.f('ix_project_application_organisation_id'))

    op.drop_table('project_application')
    op.drop_table('civic_organisation')
    _set_role_check(_ROLES_BEFORE)
