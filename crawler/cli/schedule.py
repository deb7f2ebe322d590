"""Schedule one verify run on one or more Scrapyd nodes through their ``schedule.json`` API.

What cron or a systemd timer calls every night (``backlinks schedule``). Every job gets the same run
key, so all the processes on all the nodes share one run and split its referring domains. Scrapyd's
credentials come from the environment (or the node URL) and are never printed: nodes are shown
without them.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime

ENV_NODES = "BACKLINKS_SCRAPYD_NODES"
ENV_USERNAME = "BACKLINKS_SCRAPYD_USERNAME"
ENV_PASSWORD = "BACKLINKS_SCRAPYD_PASSWORD"
# schedule.json takes these itself; any other parameter becomes a spider argument.
RESERVED = frozenset({"project", "spider", "setting", "jobid", "priority", "_version"})


class ScheduleError(RuntimeError):
    """Scheduling failed on some node; ``scheduled`` lists the jobs that did start."""

    def __init__(self, message: str, scheduled: list[tuple[str, str]]):
        super().__init__(message)
        self.scheduled = scheduled


def run_key(now: datetime) -> str:
    """The default key of a scheduled run: one per invocation, readable in `backlinks status`."""
    return f"run-{now:%Y%m%dT%H%M%SZ}"


def parse_pairs(values: Sequence[str], what: str) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` -> dict; a message naming ``what`` on a malformed pair."""
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{what} {value!r} is not NAME=VALUE")
        pairs[name.strip()] = rest
    return pairs


def display(node: str) -> str:
    """The node's URL without credentials, for messages."""
    parts = urllib.parse.urlsplit(node)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def schedule_form(
    project: str, spider: str, settings: Mapping[str, str], arguments: Mapping[str, str]
) -> list[tuple[str, str]]:
    clash = RESERVED & set(arguments)
    if clash:
        raise ValueError(f"spider argument(s) {', '.join(sorted(clash))} would be taken by schedule.json itself")
    form = [("project", project), ("spider", spider)]
    form += [("setting", f"{name}={value}") for name, value in settings.items()]
    form += list(arguments.items())
    return form


def _request(node: str, form: list[tuple[str, str]]) -> urllib.request.Request:
    parts = urllib.parse.urlsplit(node)
    user = urllib.parse.unquote(parts.username or "") or os.environ.get(ENV_USERNAME, "")
    password = urllib.parse.unquote(parts.password or "") or os.environ.get(ENV_PASSWORD, "")
    url = urllib.parse.urljoin(display(node).rstrip("/") + "/", "schedule.json")
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    return request


def schedule_jobs(
    nodes: Sequence[str],
    project: str,
    settings: Mapping[str, str],
    arguments: Mapping[str, str],
    *,
    jobs_per_node: int = 1,
    spider: str = "verify",
    timeout: float = 30,
) -> list[tuple[str, str]]:
    """Start ``jobs_per_node`` jobs on every node; returns (node as displayed, job id) per job."""
    form = schedule_form(project, spider, settings, arguments)
    scheduled: list[tuple[str, str]] = []
    problems: list[str] = []
    for node in nodes:
        for _ in range(jobs_per_node):
            try:
                with urllib.request.urlopen(_request(node, form), timeout=timeout) as response:
                    answer = json.load(response)
            except urllib.error.HTTPError as exc:
                hint = f" (check {ENV_USERNAME} / {ENV_PASSWORD})" if exc.code == 401 else ""
                problems.append(f"{display(node)}: HTTP {exc.code} {exc.reason}{hint}")
                break
            except (OSError, ValueError) as exc:  # unreachable, or not JSON
                problems.append(f"{display(node)}: {exc}")
                break
            if answer.get("status") != "ok":
                problems.append(f"{display(node)}: {answer.get('message', answer)}")
                break
            scheduled.append((display(node), str(answer["jobid"])))
    if problems:
        raise ScheduleError("; ".join(problems), scheduled)
    return scheduled
