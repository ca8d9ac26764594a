"""What the district leader reads: the dimension indices (维度指数) kept as daily aggregates,
early warnings (风险预警) per grid × category, and the pages, calls and commands over them."""

__all__: list[str] = []
