"""`backlinks schedule`: the schedule.json requests it sends, against a fake Scrapyd on 127.0.0.1.

The real Scrapyd is exercised end to end in tests/test_scrapyd.py.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.cli.schedule import ScheduleError, display, parse_pairs, run_key, schedule_form, schedule_jobs

PASSWORD = "pa55-never-shown"


class FakeScrapyd(ThreadingHTTPServer):
    def __init__(self, answer: dict | None = None, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer, self.status = answer, status
        self.requests: list[tuple[str, list[tuple[str, str]], str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    server: FakeScrapyd

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.requests.append((self.path, urllib.parse.parse_qsl(body), self.headers.get("Authorization")))
        answer = self.server.answer or {"status": "ok", "jobid": f"job{len(self.server.requests)}"}
        data = json.dumps(answer).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scrapyd(request: pytest.FixtureRequest) -> Iterator[FakeScrapyd]:
    server = FakeScrapyd(*getattr(request, "param", ()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_schedule_form_passes_settings_and_arguments() -> None:
    form = schedule_form("backlinks", "verify", {"BACKLINKS_RESOLVE": "*.test=127.0.0.1"}, {"all": "1", "run": "r1"})
    assert form == [("project", "backlinks"), ("spider", "verify"), ("setting", "BACKLINKS_RESOLVE=*.test=127.0.0.1"),
                    ("all", "1"), ("run", "r1")]
    with pytest.raises(ValueError, match="jobid"):
        schedule_form("backlinks", "verify", {}, {"jobid": "x"})


@pytest.mark.parametrize(("values", "expected"), [
    (["A=1", "B=x=y"], {"A": "1", "B": "x=y"}),
    (["EMPTY="], {"EMPTY": ""}),
    ([], {}),
])
def test_parse_pairs(values: list[str], expected: dict[str, str]) -> None:
    assert parse_pairs(values, "--setting") == expected


@pytest.mark.parametrize("bad", ["novalue", "=1"])
def test_parse_pairs_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="--setting"):
        parse_pairs([bad], "--setting")


@pytest.mark.parametrize(("node", "shown"), [
    ("http://u:p@scrapyd-1.internal:6800/", "http://scrapyd-1.internal:6800/"),
    ("https://scrapyd.example.org/", "https://scrapyd.example.org/"),
])
def test_display_hides_credentials(node: str, shown: str) -> None:
    assert display(node) == shown


def test_run_key() -> None:
    assert run_key(datetime(2026, 11, 26, 2, 15, 0, tzinfo=UTC)) == "run-20261126T021500Z"


def test_jobs_on_every_node_with_credentials_from_the_environment(scrapyd: FakeScrapyd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BACKLINKS_SCRAPYD_USERNAME", "ops")
    monkeypatch.setenv("BACKLINKS_SCRAPYD_PASSWORD", PASSWORD)
    other = scrapyd.url.replace("127.0.0.1", "localhost")
    jobs = schedule_jobs([scrapyd.url, other], "backlinks", {"LOG_LEVEL": "INFO"}, {"run": "r1"}, jobs_per_node=2)
    assert jobs == [(scrapyd.url, "job1"), (scrapyd.url, "job2"), (other, "job3"), (other, "job4")]
    token = "Basic " + base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    assert {(path, auth) for path, _, auth in scrapyd.requests} == {("/schedule.json", token)}
    assert scrapyd.requests[0][1] == [("project", "backlinks"), ("spider", "verify"), ("setting", "LOG_LEVEL=INFO"), ("run", "r1")]


@pytest.mark.parametrize(("scrapyd", "message"), [
    (({"status": "error", "message": "spider 'verify' not found"},), "spider 'verify' not found"),
    (({"status": "error", "message": "x"}, 401), "HTTP 401 Unauthorized (check BACKLINKS_SCRAPYD_USERNAME"),
], indirect=["scrapyd"])
def test_failures_name_the_node_and_never_the_password(scrapyd: FakeScrapyd, message: str) -> None:
    node = scrapyd.url.replace("http://", f"http://ops:{PASSWORD}@")
    with pytest.raises(ScheduleError) as info:
        schedule_jobs([node], "backlinks", {}, {"run": "r1"})
    assert message in str(info.value) and scrapyd.url in str(info.value) and PASSWORD not in str(info.value)
    assert info.value.scheduled == []


def test_unreachable_node(scrapyd: FakeScrapyd) -> None:
    dead = "http://127.0.0.1:9/"
    with pytest.raises(ScheduleError, match="127.0.0.1:9") as info:
        schedule_jobs([scrapyd.url, dead], "backlinks", {}, {}, timeout=5)
    assert info.value.scheduled == [(scrapyd.url, "job1")]  # the other node's job did start


def test_cli_schedules_one_run_across_nodes(scrapyd: FakeScrapyd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BACKLINKS_SCRAPYD_NODES", scrapyd.url)
    monkeypatch.setenv("BACKLINKS_SCRAPYD_PASSWORD", PASSWORD)
    result = CliRunner().invoke(app, ["schedule", "--jobs", "2", "--run", "nightly-1", "-s", "BACKLINKS_LEASE_SECONDS=600", "-a", "tag=client-a"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"run nightly-1: job job{n} on {scrapyd.url}" for n in (1, 2)]
    assert PASSWORD not in result.output
    sent = scrapyd.requests[0][1]
    assert ("setting", "BACKLINKS_LEASE_SECONDS=600") in sent and ("tag", "client-a") in sent and ("run", "nightly-1") in sent


def test_cli_needs_a_node(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("BACKLINKS_SCRAPYD_NODES", raising=False)
    result = CliRunner().invoke(app, ["schedule"])
    assert result.exit_code == 2 and "BACKLINKS_SCRAPYD_NODES" in result.output


@pytest.mark.parametrize("scrapyd", [({"status": "error", "message": "no such project"},)], indirect=True)
def test_cli_fails_with_the_node_message(scrapyd: FakeScrapyd) -> None:
    result = CliRunner().invoke(app, ["schedule", "--node", scrapyd.url])
    assert result.exit_code == 2 and "no such project" in result.output
