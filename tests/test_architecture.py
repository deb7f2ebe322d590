"""The layers of docs/architecture.md hold: imports run one way, the core stays pure, no cycles.

The contracts are in pyproject.toml (``[tool.importlinter]``); ``lint-imports`` checks them. Each
contract is also shown to fail on a planted import, on a copy of the packages, so a contract that
matches nothing (a renamed layer, a typo) cannot pass unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crawler", "pipelines", "settings")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the copy's packages are analysed, not the installed checkout's.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].lower().replace("0 broken", "")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def _plant(root: Path, module: str, line: str) -> None:
    path = root / module
    path.write_text(path.read_text() + f"\n{line}\n")


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # An import that runs back up, at each layer boundary.
        ("crawler/core/urls.py", "import crawler.shell.storage", "One direction"),
        ("pipelines/due.py", "import crawler.shell.spiders.verify", "One direction"),
        ("crawler/shell/spiders/verify.py", "import crawler.cli.app", "One direction"),
        ("crawler/reports/export.py", "import crawler.demo.run", "One direction"),
        ("crawler/reports/tables.py", "import crawler.shell.runservice", "One direction"),
        # The pure core and the database layer without Scrapy (directly or through a module).
        ("crawler/core/observe.py", "import scrapy.http", "The pure core"),
        ("crawler/core/changes.py", "import sqlalchemy", "The pure core"),
        ("pipelines/queries.py", "import twisted.internet", "The database layer"),
        # Test code, which the wheel does not hold (tests/test_package.py).
        ("crawler/demo/site.py", "import tests.support.simweb", "The product imports no test"),
        ("pipelines/imports.py", "import benchmarks.verify_bench", "The product imports no test"),
        # A cycle between two modules of one package.
        ("crawler/core/clean.py", "import crawler.core.items", "No import cycle"),
        # ...and between the modules of a subpackage.
        ("crawler/core/importers/ours.py", "import crawler.core.importers.detect", "No import cycle"),
    ],
)
def test_a_planted_import_breaks_its_contract(copy: Path, module: str, line: str, contract: str) -> None:
    assert lint_imports(copy).returncode == 0  # the copy is as good as the original...
    _plant(copy, module, line)
    result = lint_imports(copy)  # ...until the planted import
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken, result.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    """No cycle between any two modules, a package and its own modules included (the
    ``acyclic_siblings`` contract only compares siblings)."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a")
    graph.add_import(importer="a", imported="a.b")
    graph.add_import(importer="a", imported="a.d")
    assert _cycles(graph) == [["a", "a.b", "a.c"]]
