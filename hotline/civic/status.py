# -*- test-case-name: tests.civic.test_council -*-
"""The status sets of hearings and projects, one StrEnum each, with their Chinese labels."""

from __future__ import annotations

import enum

__all__ = ["CouncilLevel", "TopicStatus", "ProposalStatus", "ApplicationStatus", "LABELS",
           "SCORE_RANGE"]


class CouncilLevel(enum.StrEnum):
    """Where a topic is discussed."""

    STREET = "street"          # 街道议事会
    COMMUNITY = "community"    # 社区议事会


class TopicStatus(enum.StrEnum):
    """事前问政、事中协调、事后通报: a topic's way from collection to its public report."""

    COLLECTED = "collected"    # 已征集 (classified, not yet public)
    NOTICED = "noticed"        # 公示中
    MET = "met"                # 已议事
    REPORTED = "reported"      # 已通报


class ProposalStatus(enum.StrEnum):
    """A project proposal (申领制)."""

    PUBLISHED = "published"    # 待认领
    CLAIMED = "claimed"        # 实施中
    FINISHED = "finished"      # 已完成


class ApplicationStatus(enum.StrEnum):
    """An organisation's application (申报制)."""

    SUBMITTED = "submitted"    # 评审中
    APPROVED = "approved"      # 已立项
    REJECTED = "rejected"      # 未立项


LABELS: dict[str, str] = {
    CouncilLevel.STREET: "街道议事会", CouncilLevel.COMMUNITY: "社区议事会",
    TopicStatus.COLLECTED: "已征集", TopicStatus.NOTICED: "公示中", TopicStatus.MET: "已议事",
    TopicStatus.REPORTED: "已通报",
    ProposalStatus.PUBLISHED: "待认领", ProposalStatus.CLAIMED: "实施中",
    ProposalStatus.FINISHED: "已完成",
    ApplicationStatus.SUBMITTED: "评审中", ApplicationStatus.APPROVED: "已立项",
    ApplicationStatus.REJECTED: "未立项",
}

#: A reviewer's score, inclusive (百分制).
SCORE_RANGE = (0, 100)
