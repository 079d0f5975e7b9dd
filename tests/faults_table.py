"""docs/faults.md from the fault-injection tests: ``python tests/faults_table.py > docs/faults.md``.

Each test marked ``@pytest.mark.fault(item=N, case=..., outcome=...)`` is one row: the bad
input it makes, and what the package does with it. A table of cases in one parametrised
test carries the mark on each ``pytest.param``; parameters with the same mark share a
row. ``tests/test_faults_table.py`` fails when the file is not what this script writes,
so the table and the tests stay in step.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

ITEMS = {
    0: "Runs that silently go slower",
    1: "Missing values in a manifest",
    2: "Tasks that cannot be evaluated as declared",
    3: "Permissions of outputs",
    4: "Outputs that are links, devices or FIFOs",
    5: "Interrupted training",
    6: "Errors that used to be tracebacks",
    7: "Configuration mistakes",
    8: "Mirrors that do not exist",
    9: "Questionable audio",
    10: "Option edges",
    11: "Feature files that do not match their labels",
    12: "Representations and datasets brought by the user",
    13: "Sharded stores",
}
"""Headings of the fault groups (the numbered items of the issue that collected them)."""

HEADER = """# Faults tried, and what happens

Generated from the fault-injection tests (`python tests/faults_table.py > docs/faults.md`;
`tests/test_faults_table.py` checks it is current). Every row is a test that makes the bad
input itself and asserts the outcome. A user error exits with status 2 and one line naming
the file or key and what to do next (`--debug` adds the traceback); no case ends in exit 0
with a changed or NaN score.
"""


def fault_rows() -> list[tuple[int, str, str, str]]:
    """(item, case, outcome, test id) of every test or parameter marked ``fault``, sorted.

    A mark on a test function is one row naming the test. A mark on parameters
    (``pytest.param(..., marks=pytest.mark.fault(...))``) is one row per distinct
    (item, case, outcome), naming the test and the ids of the parameters that share it.
    """
    rows = []
    for path in sorted(TESTS.glob("test_*.py")):
        if "mark.fault" not in path.read_text():
            continue
        spec = importlib.util.spec_from_file_location(f"_faults_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for name, obj in vars(module).items():
            if not name.startswith("test_") or not callable(obj):
                continue
            test_id = f"{path.name}::{name}"
            by_fault: dict[tuple[int, str, str], list[str]] = {}
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "fault":
                    rows.append((*_fault(mark), test_id))
                elif mark.name == "parametrize":
                    values = mark.args[1] if len(mark.args) > 1 else mark.kwargs["argvalues"]
                    for param in values:
                        for sub in getattr(param, "marks", ()):
                            if sub.name == "fault":
                                if param.id is None:
                                    raise ValueError(f"{test_id}: a fault param needs an id")
                                by_fault.setdefault(_fault(sub), []).append(param.id)
            for fault, ids in by_fault.items():
                rows.append((*fault, f"{test_id}[{', '.join(ids)}]"))
    return sorted(rows)


def _fault(mark) -> tuple[int, str, str]:
    """(item, case, outcome) of one ``fault`` mark."""
    kw = mark.kwargs
    return int(kw["item"]), kw["case"], kw["outcome"]


def render(rows: list[tuple[int, str, str, str]]) -> str:
    """The Markdown document."""
    lines = [HEADER]
    for item in sorted({r[0] for r in rows}):
        lines += [f"## {ITEMS.get(item, f'Item {item}')}", ""]
        lines += ["| bad input | what happens | test |", "|---|---|---|"]
        for _, case, outcome, test_id in (r for r in rows if r[0] == item):
            cells = [c.replace("|", "\\|") for c in (case, outcome)]
            lines.append(f"| {cells[0]} | {cells[1]} | `{test_id}` |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS))
    sys.stdout.write(render(fault_rows()))
