"""End to end under Scrapyd: deploy the project as an egg, schedule `verify`, read the results.

A real Scrapyd runs on 127.0.0.1 with a random port, temporary directories, SQLite job storage and
basic auth, from a node environment built exactly as docs/production.md prescribes: a venv holding
Scrapyd and the project's dependencies from the registry, and not the project (which the test's own
editable install would put on every path, hiding an egg that cannot be imported). The venv is built
once per dependency list and kept under this environment's prefix. `scrapyd-deploy` builds the egg
from a copy of the project (it writes build files next to scrapy.cfg). Scrapyd's environment has no
BACKLINKS_* variable: the database, the host mapping and the loopback allowance reach the crawl only as
`setting=` parameters of schedule.json, as they would on a production node.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections import Counter
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.cli.schedule import schedule_jobs
from crawler.demo.run import DEMO_SETTINGS, Demo
from crawler.demo.site import SCENARIOS
from pipelines.db import make_engine, make_sessionmaker
from pipelines.models import Check, Run, State

pytestmark = [pytest.mark.scrapyd, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("crawler", "pipelines", "settings", "pyproject.toml", "setup.py", "scrapy.cfg", "README.md")
USER, PASSWORD = "deployer", "s3cret-for-tests"
BIN = Path(sys.executable).parent  # scrapyd-deploy runs from a checkout's environment, as in the doc
# docs/production.md: Scrapyd 1.6's runner imports pkg_resources, which setuptools 81 removed.
NODE_SCRAPYD = ["scrapyd>=1.6", "setuptools<81"]


@dataclass
class Scrapyd:
    url: str
    root: Path
    process: subprocess.Popen[bytes]

    def get(self, endpoint: str, **query: str) -> dict:
        request = urllib.request.Request(f"{self.url}{endpoint}?{urllib.parse.urlencode(query)}")
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        # listspiders.json runs the project in a child process: seconds on a busy machine.
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env() -> dict[str, str]:
    """The test's environment without anything that would configure the crawl behind Scrapyd's back."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("BACKLINKS_", "SCRAPY"))}


def _node_requirements() -> list[str]:
    """The node's packages, as docs/production.md installs them: Scrapyd, then the project's
    dependencies from pyproject.toml (the doc's one-liner)."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [*NODE_SCRAPYD, *dependencies]


def _node_venv() -> Path:
    """A Scrapyd node's venv (docs/production.md, section 2), built on first use and kept."""
    requirements = _node_requirements()
    digest = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:12]
    venv = Path(sys.prefix) / "scrapyd-node" / digest
    ready = venv / "built"
    if ready.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)  # a build that was interrupted
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *NODE_SCRAPYD], check=True, timeout=600)
    listed = venv / "requirements.txt"
    listed.write_text("\n".join(requirements[len(NODE_SCRAPYD):]) + "\n")
    subprocess.run([*pip, "-r", str(listed)], check=True, timeout=600)
    ready.write_text("ok\n")
    return venv


@pytest.fixture(scope="module")
def node() -> Path:
    venv = _node_venv()
    # Only the dependencies: the project itself must come from the deployed egg.
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import crawler"], cwd="/", env=_clean_env(), capture_output=True, text=True
    )
    assert "No module named 'crawler'" in probe.stderr, probe.stderr
    return venv


@pytest.fixture(scope="module")
def scrapyd(node: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapyd]:
    root = tmp_path_factory.mktemp("scrapyd")
    port = _free_port()
    (root / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"username = {USER}\npassword = {PASSWORD}\n"
        f"eggs_dir = {root / 'eggs'}\nlogs_dir = {root / 'logs'}\nitems_dir = {root / 'items'}\n"
        f"dbs_dir = {root / 'dbs'}\n"
        "jobstorage = scrapyd.jobstorage.SqliteJobStorage\njobs_to_keep = 5\n"
        "max_proc = 2\npoll_interval = 0.2\n"
    )
    # cwd = root: Scrapyd reads ./scrapyd.conf, and its crawls do not see the source tree on sys.path,
    # so they run the deployed egg.
    process = subprocess.Popen(
        [str(node / "bin" / "scrapyd")], cwd=root, env=_clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Scrapyd(f"http://127.0.0.1:{port}/", root, process)
    try:
        for _ in range(100):
            try:
                if server.get("daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("Scrapyd did not start")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def deployed(scrapyd: Scrapyd, tmp_path_factory: pytest.TempPathFactory) -> str:
    source = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    env = _clean_env() | {
        "BACKLINKS_SCRAPYD_URL": scrapyd.url,
        "BACKLINKS_SCRAPYD_USERNAME": USER,
        "BACKLINKS_SCRAPYD_PASSWORD": PASSWORD,
    }
    result = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "production", "--version", "r1"],
        cwd=source, env=env, capture_output=True, text=True, check=False, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["status"] == "ok", result.stdout
    assert scrapyd.get("listspiders.json", project="backlinks")["spiders"] == ["verify"]
    return "backlinks"


def _wait_finished(scrapyd: Scrapyd, project: str, jobs: list[str], timeout: float = 180) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = {job["id"]: job for job in scrapyd.get("listjobs.json", project=project)["finished"]}
        if all(job in finished for job in jobs):
            return finished
        time.sleep(0.5)
    pytest.fail(f"jobs {jobs} did not finish in {timeout} s")


def _log(scrapyd: Scrapyd, project: str, job: str) -> str:
    return (scrapyd.root / "logs" / project / "verify" / f"{job}.log").read_text(errors="replace")


def test_deploy_schedule_and_verify_on_postgres(
    scrapyd: Scrapyd, deployed: str, empty_postgres, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    demo = Demo.prepare(tmp_path, empty_postgres())
    try:
        settings = {
            **DEMO_SETTINGS,
            "BACKLINKS_DATABASE_URL": demo.database_url,
            "BACKLINKS_RESOLVE": "*.test=127.0.0.1",
            "BACKLINKS_ALLOWED_NETWORKS": "127.0.0.0/8",
            "LOG_LEVEL": "INFO",
        }
        # The same code path as `backlinks schedule`: two jobs of one logical run on the node.
        os.environ["BACKLINKS_SCRAPYD_USERNAME"], os.environ["BACKLINKS_SCRAPYD_PASSWORD"] = USER, PASSWORD
        try:
            jobs = schedule_jobs([scrapyd.url], deployed, settings, {"all": "1", "run": "scrapyd-e2e"}, jobs_per_node=2)
        finally:
            del os.environ["BACKLINKS_SCRAPYD_USERNAME"], os.environ["BACKLINKS_SCRAPYD_PASSWORD"]
        job_ids = [job for _node, job in jobs]
        assert len(job_ids) == 2
        _wait_finished(scrapyd, deployed, job_ids)
    finally:
        demo.site.stop()

    logs = [_log(scrapyd, deployed, job) for job in job_ids]
    for log in logs:
        assert "Traceback" not in log, log[-4000:]
        assert "'finish_reason': 'finished'" in log
    engine = make_engine(demo.database_url)
    with make_sessionmaker(engine)() as session:
        runs = list(session.scalars(select(Run)))
        checks_per_backlink = session.execute(select(Check.backlink_id, func.count()).group_by(Check.backlink_id)).all()
        statuses = dict(session.execute(select(State.status, func.count()).group_by(State.status)).all())
    engine.dispose()
    # One logical run, shared by both jobs; every backlink checked exactly once.
    assert len(runs) == 1 and runs[0].status == "finished" and runs[0].key == "scrapyd-e2e"
    assert runs[0].counts["checked"] == len(SCENARIOS)
    assert len(checks_per_backlink) == len(SCENARIOS) and {n for _, n in checks_per_backlink} == {1}
    assert statuses == Counter(s.expect[0] for s in SCENARIOS)
    # Scrapyd keeps the job history in SQLite: it survives a restart.
    assert (scrapyd.root / "dbs").is_dir() and any((scrapyd.root / "dbs").iterdir())
