"""The district's map (streets, communities, grids, sub-grids) and its grid workers: map import
and export, point-in-polygon and address placement, and the grid worker's phone page (reports
with photos, visits, verification tasks, the daily log 民情日志)."""

__all__: list[str] = []
