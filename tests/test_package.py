"""The wheel ships the product and nothing else: no tests, fakes or benchmarks, and regular packages only.

Scrapyd deploys an egg built the same way from pyproject.toml (tests/test_scrapyd.py); a namespace
package or a module that exists only in the checkout breaks such a deploy, not a test run from the
checkout, so the wheel itself is looked at.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("crawler", "pipelines", "settings")
# Alembic's script folders: read as files by Alembic, never imported as packages.
NOT_PACKAGES = {"pipelines/migrations", "pipelines/migrations/versions"}
TEST_ONLY = ("tests", "benchmarks", "simweb", "js_site", "fault_server", "farm", "golden", "record_dom", "conftest")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> list[PurePosixPath]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("*.whl")
    with zipfile.ZipFile(built) as archive:
        return [PurePosixPath(name) for name in archive.namelist()]


def test_the_wheel_holds_only_the_product(wheel: list[PurePosixPath]) -> None:
    tops = {path.parts[0] for path in wheel if not path.parts[0].endswith(".dist-info")}
    assert tops == set(PRODUCT)
    shipped_test_code = [str(p) for p in wheel if any(part.removesuffix(".py") in TEST_ONLY for part in p.parts)]
    assert shipped_test_code == []


def test_the_wheel_holds_every_product_module(wheel: list[PurePosixPath]) -> None:
    checkout = {
        PurePosixPath(path.relative_to(ROOT).as_posix())
        for top in PRODUCT for path in (ROOT / top).rglob("*.py") if "__pycache__" not in path.parts
    }
    assert checkout - set(wheel) == set()


def test_every_folder_of_modules_is_a_regular_package(wheel: list[PurePosixPath]) -> None:
    folders = {path.parent for path in wheel if path.suffix == ".py"}
    namespace = sorted(str(f) for f in folders if str(f) not in NOT_PACKAGES and f / "__init__.py" not in set(wheel))
    assert namespace == []


def test_the_wheel_holds_the_report_templates(wheel: list[PurePosixPath]) -> None:
    """Package data ([tool.setuptools.package-data]): without it `backlinks report` fails once installed."""
    templates = {PurePosixPath(p.relative_to(ROOT).as_posix()) for p in (ROOT / "crawler/reports/templates").iterdir()}
    assert templates and templates - set(wheel) == set()
