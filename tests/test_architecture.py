"""The package's structure: no import cycle, imports only downwards, no module over 600 lines.

Every module of ``src/musictransfer`` is parsed with :mod:`ast` (nothing is imported), and
each of its imports of the package is an edge of a graph: imports at the top level and
inside functions alike, since a function-level import is a dependency that has only been
put off. A package ``__init__`` is treated as Python runs it:

- importing ``a.b.c`` also executes the packages ``a.b`` and ``a`` above it, so those are
  edges too, except for the packages the importer itself lies in (a submodule importing
  a sibling does not depend on its package's re-exports, which import it in turn);
- ``from a.b import c`` where ``c`` is a submodule is an import of ``a.b.c``;
- imports inside a package's PEP 562 ``__getattr__`` (lazy attributes, such as
  ``musictransfer.load_pretrained``) belong to a node of their own, ``<package>.__getattr__``:
  they run when such an attribute is first read, not when the package is imported for
  anything else (``provenance`` reads ``musictransfer.__version__``);
- imports under ``if TYPE_CHECKING:`` never run: they count for the layers, not for cycles.

:data:`LAYERS` is the one declaration of the layer order. A module may import its own
layer and the layers below it; a new module must be placed in the table.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "musictransfer"
MAX_LINES = 600

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "musictransfer",  # the root package itself: __version__ (its lazy attributes: top)
            "musictransfer._typing",
            "musictransfer.constants",
            "musictransfer.errors",
            "musictransfer.published",
            "musictransfer.outputs",
            "musictransfer.fetching",
            "musictransfer.numba_cache",
            "musictransfer.provenance",
            "musictransfer.sizing",
            "musictransfer.layout",
        ),
    ),
    (
        # What the Snakefile reads in Snakemake's own environment: standard library (with
        # PyYAML and jsonschema for the configuration).
        "registries and configuration",
        (
            "musictransfer.datasets",  # the package's __init__ only (a docstring)
            "musictransfer.datasets.paper",  # the __init__: the released files' registry
            "musictransfer.datasets.protocols",  # the __init__: the split files' registry
            "musictransfer.config",
            "musictransfer.config_doc",
        ),
    ),
    (
        "data",
        (
            "musictransfer.audio",
            "musictransfer.featurefile",
            "musictransfer.datasets.*",
            "musictransfer.datasets.paper.*",  # fetching, reading, converting the files
            "musictransfer.datasets.protocols.*",  # fetching the files, deriving the splits
            "musictransfer.folds",
            "musictransfer.taskdata",
            "musictransfer.imported_features",  # features computed elsewhere, checked
            "musictransfer.clip_sources",  # a representation's clips: decoded, or read from a store
        ),
    ),
    (
        "models",
        (
            "musictransfer.model",
            "musictransfer.choi2017_network",
            "musictransfer.modelfile",
            "musictransfer.features",
            "musictransfer.training",
            "musictransfer.choi2017",
            "musictransfer.hear",  # our networks as HEAR 2021 modules
            "musictransfer.representations",  # any HEAR 2021 module on audio files
        ),
    ),
    (
        "evaluation",
        (
            "musictransfer.readings",
            "musictransfer.interior_point",
            "musictransfer.svm_grid",
            "musictransfer.stats",
            "musictransfer.evaluation",
            "musictransfer.cell_files",
            "musictransfer.probes",
            "musictransfer.protocols",
            "musictransfer.batch_context",
        ),
    ),
    (
        "reporting",
        (
            "musictransfer.scores_table",
            "musictransfer.figures",
            "musictransfer.authors",
            "musictransfer.protocols_report",
            "musictransfer.report_markdown",
        ),
    ),
    (
        "interface",
        (
            "musictransfer.cli",
            "musictransfer.__main__",
            "musictransfer.api",  # evaluate_features / probe_features: the workflow's numbers
            "musictransfer.__getattr__",  # the root's lazy attributes (load_pretrained)
        ),
    ),
)
"""The layers, lowest first, each with its modules. An entry names a module and every
module below it; one ending in ``.*`` names only the modules below it, so that a
package's ``__init__`` can sit lower than its submodules. A module takes the layer of the
entry that names it exactly, else of the longest entry above it (``.*`` first on a tie);
``musictransfer`` is the root package alone."""


# --- the graph ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import of a package module: where it is and what it imports."""

    source: str
    """The importing node: a module, or ``<package>.__getattr__`` for lazy attributes."""
    target: str
    """The imported module (for ``from m import name`` with ``name`` not a module: ``m``)."""
    line: int
    kind: str
    """``top`` (runs on import), ``function`` (runs with its function) or ``typing``."""
    implicit: bool = False
    """An ancestor package executed by importing ``target`` (not written in the source)."""


def module_files(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted name -> file of every module of ``package`` under ``src``."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_package(name: str, files: dict[str, Path]) -> bool:
    return files[name].name == "__init__.py"


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _import_nodes(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, str, str]]:
    """(node, kind, owner) of every import: owner ``__getattr__`` for a lazy attribute."""

    def walk(node: ast.AST, kind: str, owner: str) -> Iterator:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, kind, owner
            elif _is_type_checking(child):
                yield from walk(child, "typing", owner)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                lazy = owner or (child.name if node is tree and child.name == "__getattr__" else "")
                yield from walk(child, "function" if kind != "typing" else kind, lazy)
            else:  # class bodies, if/try/with blocks: they run where they stand
                yield from walk(child, kind, owner)

    yield from walk(tree, "top", "")


def _resolve(name: str, node: ast.ImportFrom, files: dict[str, Path]) -> str:
    """The absolute module of a (possibly relative) ``from ... import``."""
    if not node.level:
        return node.module or ""
    base = name.split(".")
    if not _is_package(name, files):
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _existing(target: str, files: dict[str, Path]) -> str:
    """``target``, or its nearest enclosing module (``a.b.c`` of a missing ``c``: ``a.b``)."""
    while target and target not in files:
        target = target.rpartition(".")[0]
    return target


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def package_imports(src: Path = SRC, package: str = PACKAGE) -> list[Import]:
    """Every import of a module of ``package`` by a module of ``package``, with its kind."""
    files = module_files(src, package)
    found: list[Import] = []
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, kind, owner in _import_nodes(tree):
            source = f"{name}.{owner}" if owner else name
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                module = _resolve(name, node, files)
                targets = [module]
                subs = (f"{module}.{alias.name}" for alias in node.names)
                targets += [sub for sub in subs if sub in files]
            for target in targets:
                if target != package and not target.startswith(package + "."):
                    continue
                target = _existing(target, files)
                found.append(Import(source, target, node.lineno, kind))
                for parent in _ancestors(target):
                    if parent != package and parent not in _ancestors(name) and parent != name:
                        found.append(Import(source, parent, node.lineno, kind, implicit=True))
    return found


def find_cycle(edges: list[Import]) -> list[str] | None:
    """A cycle of modules through imports that run (``typing`` ones never do), or None."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.kind != "typing" and edge.source != edge.target:
            graph.setdefault(edge.source, set()).add(edge.target)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def layer_of(name: str, layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> int | None:
    """The index of the layer whose most specific entry names ``name`` (None: unplaced)."""
    best: tuple[tuple[bool, int, bool], int] | None = None  # (specificity, layer)
    for index, (_, entries) in enumerate(layers):
        for entry in entries:
            below = entry.endswith(".*")
            stem = entry.removesuffix(".*")
            exact = not below and name == stem
            inside = name.startswith(stem + ".") and (below or stem != PACKAGE)
            specificity = (exact, len(stem), below)
            if (exact or inside) and (best is None or specificity > best[0]):
                best = (specificity, index)
    return None if best is None else best[1]


def upward_imports(
    edges: list[Import], layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS
) -> list[str]:
    """Every written import of a module of a higher layer, as a readable line."""
    out = []
    for edge in edges:
        if edge.implicit:
            continue
        source, target = layer_of(edge.source, layers), layer_of(edge.target, layers)
        if source is not None and target is not None and target > source:
            out.append(
                f"{edge.source} ({layers[source][0]}) imports {edge.target} "
                f"({layers[target][0]}), line {edge.line} ({edge.kind})"
            )
    return out


# --- the package ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edges() -> list[Import]:
    return package_imports()


def test_the_parser_sees_top_level_function_level_and_lazy_imports(edges):
    kinds = {(e.source, e.target): e.kind for e in edges if not e.implicit}
    assert kinds[("musictransfer.report_markdown", "musictransfer.scores_table")] == "top"
    assert kinds[("musictransfer.cli.report", "musictransfer.figures")] == "function"
    assert kinds[("musictransfer.__getattr__", "musictransfer.choi2017")] == "function"
    assert ("musictransfer", "musictransfer.choi2017") not in kinds


def test_no_import_cycle(edges):
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_has_a_layer(edges):
    nodes = {*module_files(), *(e.source for e in edges)}
    unplaced = sorted(n for n in nodes if layer_of(n) is None)
    assert not unplaced, f"modules missing from LAYERS: {unplaced}"


def test_imports_go_only_to_the_same_or_a_lower_layer(edges):
    upward = upward_imports(edges)
    assert not upward, "imports of a higher layer:\n" + "\n".join(upward)


def test_no_module_exceeds_600_lines():
    long = {
        str(path.relative_to(SRC)): n
        for path in sorted(SRC.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


# --- the checks themselves -----------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_catch_a_cycle_through_a_function_and_through_a_package(tmp_path):
    src = _write(
        tmp_path,
        {
            "__init__.py": "def __getattr__(name):\n    from pkg.high import f\n    return f\n",
            "low.py": "import pkg\n\ndef g():\n    from pkg import high\n",
            "high.py": "from pkg.low import g\n",
            "sub/__init__.py": "from pkg.sub.api import x\n",
            "sub/api.py": "from pkg.base import y\nx = 1\n",
            "base.py": "def h():\n    from pkg.sub.net import z\n",
            "sub/net.py": "z = 1\n",
        },
    )
    edges = package_imports(src, "pkg")
    assert find_cycle([e for e in edges if "sub" not in e.source + e.target]) == [
        "pkg.high",
        "pkg.low",
        "pkg.high",
    ]
    # base -> sub.net runs sub/__init__, which imports sub.api, which imports base.
    cycle = find_cycle([e for e in edges if "sub" in e.source + e.target or "base" in e.source])
    assert cycle is not None and {"pkg.base", "pkg.sub", "pkg.sub.api"} <= set(cycle)
    # The root's lazy attribute is a node of its own: `import pkg` in low is no cycle.
    assert ("pkg.__getattr__", "pkg.high") in {(e.source, e.target) for e in edges}


def test_the_checks_catch_an_upward_import(tmp_path):
    src = _write(
        tmp_path,
        {"__init__.py": "", "low.py": "def f():\n    from pkg.high import g\n", "high.py": ""},
    )
    layers = (("low", ("pkg.low",)), ("high", ("pkg.high",)))
    upward = upward_imports(package_imports(src, "pkg"), layers)
    assert upward == ["pkg.low (low) imports pkg.high (high), line 2 (function)"]
