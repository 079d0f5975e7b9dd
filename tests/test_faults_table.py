"""docs/faults.md is the table the fault tests make (see tests/faults_table.py)."""

from __future__ import annotations

from faults_table import ITEMS, fault_rows, render


def test_faults_doc_is_current(repo):
    rows = fault_rows()
    assert rows, "no test is marked fault"
    expected = render(rows)
    actual = (repo / "docs" / "faults.md").read_text()
    regenerate = "python tests/faults_table.py > docs/faults.md"
    assert actual == expected, f"docs/faults.md is stale: {regenerate}"


def test_every_fault_names_its_case_and_outcome():
    for item, case, outcome, test_id in fault_rows():
        assert item in ITEMS and len(case) > 10 and len(outcome) > 10, test_id
