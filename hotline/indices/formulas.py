# -*- test-case-name: tests.indices.test_aggregate -*-
"""The dimension indices' formulas: one place that computes them from counters and says in
words (printed on every page) how. Pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["INDEX_NAMES", "DEFINITIONS", "WEIGHTS", "Indices", "indices_of"]

#: The indices in the order pages show them, with their Chinese names.
INDEX_NAMES = {"intensity": "诉求强度", "timeliness": "办理及时率", "resolution": "解决率",
               "satisfaction": "满意率", "repeat": "重复诉求率", "composite": "综合指数"}
#: The composite's weights (they sum to 1); intensity measures load, not performance, and is
#: left out of it.
WEIGHTS = {"timeliness": 0.3, "resolution": 0.25, "satisfaction": 0.3, "repeat": 0.15}

DEFINITIONS = {
    "intensity": "诉求强度 = 期间受理诉求数 ÷ 常住人口 × 1000（每千人诉求数；人口为各网格的站点数据，"
                 "部门与类别按全区人口）",
    "timeliness": "办理及时率 = 期间在法定时限（工作日时钟的期限）内办理回复的诉求数 ÷ 期间办理回复的诉求数",
    "resolution": "解决率 = 期间回访后办结的诉求数 ÷（办结数 + 不满意重办数）",
    "satisfaction": "满意率 = 期间满意度评价中评分 ≥ 阈值（默认 4 分，满分 5 分）的次数 ÷ 评价次数",
    "repeat": "重复诉求率 = 期间诉求中，同一市民在受理日前 30 天内（或当日更早）已就同一类别提出过诉求的数量 ÷ 期间诉求数",
    "composite": "综合指数 = 100 ×（0.30 × 办理及时率 + 0.25 × 解决率 + 0.30 × 满意率 + 0.15 ×"
                 "（1 − 重复诉求率））；缺项时其余权重按比例放大",
}


@dataclass(frozen=True)
class Indices:
    """The indices of one area, department or category over one period; None where there is
    nothing to divide by."""

    intensity: float | None
    timeliness: float | None
    resolution: float | None
    satisfaction: float | None
    repeat: float | None
    composite: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in INDEX_NAMES}


def _ratio(top: int, bottom: int) -> float | None:
    return top / bottom if bottom else None


def indices_of(counts: Mapping[str, int], population: int | None) -> Indices:
    """The indices from summed ``index_day`` counters and the residents they concern."""
    parts = {"timeliness": _ratio(counts["on_time"], counts["finished"]),
             "resolution": _ratio(counts["closed"], counts["closed"] + counts["reopened"]),
             "satisfaction": _ratio(counts["satisfied"], counts["surveyed"]),
             "repeat": _ratio(counts["repeats"], counts["demands"])}
    scored = {name: (1 - value if name == "repeat" else value)
              for name, value in parts.items() if value is not None}
    weight = sum(WEIGHTS[name] for name in scored)
    composite = (100 * sum(WEIGHTS[name] * value for name, value in scored.items()) / weight
                 if weight else None)
    intensity = counts["demands"] * 1000 / population if population else None
    return Indices(intensity=intensity, composite=composite, **parts)
