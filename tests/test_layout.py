"""The tree keeps its own conventions: every module's ``test-case-name`` header names a test
module that exists (so `trial`/editors jump to real tests, and a module whose tests are
missing is seen)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hotline", "scheduler", "db", "bench")
_HEADER = re.compile(r"^# -\*- test-case-name: *(?P<names>[\w., ]+?) *-\*-$", re.MULTILINE)


def headers() -> dict[str, list[str]]:
    """Each source file with a header → the test modules it names."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            match = _HEADER.search(path.read_text(encoding="utf-8")[:400])
            if match:
                found[str(path.relative_to(ROOT))] = [
                    n.strip() for n in match["names"].split(",") if n.strip()]
    return found


def test_every_test_case_name_header_names_an_existing_test_module():
    """No header points at a test module that is not in tests/."""
    found = headers()
    assert len(found) > 50, "the header scan found too few modules: is the pattern right?"
    missing = {source: name for source, names in found.items() for name in names
               if not (ROOT / (name.replace(".", "/") + ".py")).is_file()}
    assert missing == {}


def test_the_header_scan_reads_a_header_and_its_list():
    """The pattern takes one name or a comma-separated list, and only in the header form."""
    text = "# -*- test-case-name: tests.a.test_b, tests.test_c -*-\n\"\"\"Doc.\"\"\"\n"
    assert [m["names"] for m in _HEADER.finditer(text)] == ["tests.a.test_b, tests.test_c"]
    assert _HEADER.search("# test-case-name: tests.x\n") is None
