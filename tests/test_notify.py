"""Alerts after a run (docs/alerts.md): digests through Apprise, our signed webhook, the delivery
bookkeeping that sends each event once and loses none, and `backlinks notify`.

Every receiver is real and on 127.0.0.1: an HTTP server (our webhook, Apprise's json://), an SMTP
server (Apprise's mailto://), a closed port, a server that answers 500 or too late.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler
from sqlalchemy import select, text
from typer.testing import CliRunner

import settings as project
from crawler.cli.app import app
from crawler.cli.exitcode import ExitCode, outcome
from crawler.core import alerts
from crawler.core.alerts import AlertEvent, RunFacts, alertable, digest, inert, webhook_body
from crawler.core.changes import ChangePolicy, EventKind
from crawler.core.items import DueBacklink, LinkRecord, Observation, PageFacts
from crawler.core.observe import observe_failure
from crawler.core.outcome import Status
from crawler.reports import notify as notify_module
from crawler.reports import senders
from crawler.reports.notify import NotifyConfig, deliver
from crawler.reports.tables import run_summary
from crawler.shell import config as config_module
from crawler.shell.config import BacklinksSettings, SettingsError
from crawler.shell.runservice import NOTIFY_FAILED, RunService
from crawler.shell.spiders.verify import VerifySpider
from pipelines import batches, deliveries, runs
from pipelines.db import make_engine, make_sessionmaker
from pipelines.due import DueFilter
from pipelines.imports import import_clean
from pipelines.models import Backlink, Delivery, Event, State
from tests.support.receivers import HttpReceiver, SmtpReceiver, closed_port, http_receiver, smtp_receiver

DOCS = Path(__file__).resolve().parents[1] / "docs" / "alerts.md"
SECRET = "whsec-Correct-Horse-Battery"
NIGHT = datetime(2026, 11, 1, 2, tzinfo=UTC)
MINE = "https://mine.test/"
A = [f"https://a{i}.example/page" for i in range(3)]  # tagged client-a
B = [f"https://b{i}.example/page" for i in range(2)]  # tagged client-b
HOSTILE = "new\nLost (99)\n- fake line <script>alert(1)</script> @everyone [click](http://evil.test) `x`" + "y" * 3000
runner = CliRunner()


# --- Pure: what is alerted, the digest, the webhook's body and signature --------------------------


@pytest.mark.parametrize(
    ("kind", "before", "alerted"),
    [
        ("lost", "live", True),
        ("recovered", "lost (link_removed)", True),
        ("recovered", "lost", True),
        # A false alarm cleared: its miss was never alerted.
        ("recovered", "missing_unconfirmed (link_removed)", False),
        ("first_seen", None, False),
        ("anchor_changed", "old", True),
        ("rel_changed", "", True),
        ("follow_changed", "follow", True),
        ("target_changed", MINE, True),
        ("page_became_noindex", "no", True),
        ("page_canonical_changed", None, True),
        ("position_changed", "main", True),
        ("hidden_changed", "no", True),
        ("page_became_indexable", "yes", True),
        ("lost_before_expiry", "paid until 2026-12-01", True),
        ("expired", None, True),
        ("expectation_unmet", None, True),
        ("expectation_met", "anchor", True),
        ("bogus", None, False),
    ],
)
def test_what_is_alerted(kind: str, before: str | None, alerted: bool) -> None:
    assert alertable(kind, before) is alerted


def test_every_event_kind_is_decided() -> None:
    # A new kind must be placed in a digest section or left out on purpose.
    assert {k for k in EventKind} - alerts.ALERT_KINDS == {EventKind.FIRST_SEEN}


def _run(**values: Any) -> RunFacts:
    return RunFacts(**{"id": 7, "status": "finished", "checked": 40, "started_at": NIGHT, "finished_at": NIGHT, **values})


def _event(number: int, kind: str = "lost", **values: Any) -> AlertEvent:
    base = {
        "event_id": number, "kind": kind, "at": NIGHT, "run_id": 7, "referring_url": f"https://r{number}.example/",
        "target_url": MINE, "referring_domain": f"r{number}.example", "before": "live", "after": "link_removed",
    }
    return AlertEvent(**{**base, **values})


def test_a_digest_groups_by_kind_and_caps_each_kind() -> None:
    events = [_event(i) for i in range(13)] + [_event(100, "anchor_changed", before="old", after="new")]
    text = digest(_run(), events, limit=10)
    assert text.title == "Backlinks: run 7: 13 lost, 1 anchor changed"
    body = text.body.splitlines()
    lost = body.index("Lost (13)")
    assert body[lost + 1].startswith("- https://r0.example/ -> https://mine.test/ (link_removed; was live)")
    assert body[lost + 11] == "and 3 more (backlinks changes --run 7 --kind lost)"
    assert body[body.index("Anchor changed (1)") + 1] == '- https://r100.example/ -> https://mine.test/: "old" => "new"'
    assert "Degraded" not in text.body


def test_a_degraded_run_says_so_even_with_nothing_changed() -> None:
    text = digest(_run(degraded=True, held_back=4), [], limit=10, tag="client-a")
    assert text.title == "Backlinks [client-a]: run 7: no changes"
    assert "Degraded run" in text.body and "4 losses are held back" in text.body


def test_hostile_strings_in_a_digest_stay_one_harmless_line() -> None:
    events = [_event(1, "anchor_changed", before="old", after=HOSTILE, referring_url="https://r.example/<b>\n@here")]
    body = digest(_run(), events, limit=10).body
    lines = body.splitlines()
    assert len(lines) == 4  # the run line, a blank, the section title, the one event line
    assert "Lost (99)" not in lines and "<" not in body and ">" not in body.replace("->", "").replace("=>", "")
    assert "@everyone" not in body and "@here" not in body and "](" not in body and "`" not in body
    assert len(lines[-1]) < 3 * alerts.DIGEST_TEXT_LIMIT


@pytest.mark.parametrize(
    ("kind", "before", "after", "line"),
    [
        ("lost", "live", "page_not_found", "(page_not_found; was live)"),
        ("recovered", "lost (link_removed)", "live", "(was lost (link_removed))"),
        ("lost_before_expiry", "paid until 2026-12-01", "link_removed", ': "paid until 2026-12-01" => "link_removed"'),
        ("expired", None, "2026-12-01", "(paid until 2026-12-01)"),
        ("expectation_unmet", None, "anchor, rel", "(unmet: anchor, rel)"),
        ("expectation_met", "rel", None, "(met again: rel)"),
        ("rel_changed", "", "nofollow", ': (none) => "nofollow"'),
    ],
)
def test_each_kind_has_its_digest_line(kind: str, before: str | None, after: str | None, line: str) -> None:
    body = digest(_run(), [_event(1, kind, before=before, after=after)], limit=10).body
    assert f"- https://r1.example/ -> https://mine.test/ {line}".replace("/ :", "/:") in body.splitlines()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a\r\nb\tc", "a b c"),
        ("<!channel>", "‹!channel›"),
        ("@everyone", "@\u200beveryone"),
        ("[x](http://evil)", "[x] (http://evil)"),
        ("\u202eevil\u2066", "evil"),
        (None, ""),
        ("x" * 200, "x" * 99 + "…"),
    ],
)
def test_inert(value: str | None, shown: str) -> None:
    assert inert(value) == shown


def test_the_webhook_body_keeps_hostile_strings_as_ascii_data() -> None:
    event = _event(1, "anchor_changed", before="old", after=HOSTILE, after_anchors=[HOSTILE], after_context="\u202e")
    body = webhook_body(_run(), [event], delivery_id="d-1", sent_at=NIGHT)
    assert body.isascii() and b"\n" not in body
    payload = json.loads(body)
    assert payload["schema_version"] == 1 and payload["delivery_id"] == "d-1"
    sent = payload["events"][0]
    assert sent["after"] == HOSTILE[: alerts.WEBHOOK_TEXT_LIMIT - 1] + "…"  # the data, only bounded
    assert sent["after_link"]["anchors"][0].startswith("new\nLost (99)") and sent["after_link"]["context"] == "\u202e"


def _documented_verifier() -> Callable[..., bool]:
    """The receiver's verification code from docs/alerts.md, run as written."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert code, "docs/alerts.md has the verification snippet"
    scope: dict[str, Any] = {}
    exec(code[1], scope)  # noqa: S102 (our own documentation)
    return scope["verify"]


def test_the_documented_verification_accepts_our_signature_only() -> None:
    verify = _documented_verifier()
    body = webhook_body(_run(), [_event(1)], delivery_id="d-1", sent_at=NIGHT)
    header = alerts.signature(SECRET, body)
    assert header == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert verify(body, header, SECRET)
    assert not verify(body + b" ", header, SECRET)
    assert not verify(body, header, SECRET + "x")
    assert not verify(body, None, SECRET)


def test_secret_parts_of_an_apprise_url_are_redacted() -> None:
    url = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js?avatar=no&token=T0ken%40x"
    found = alerts.redact(f"posting {url} to 4174216298 with T0ken@x", alerts.secret_fragments(url))
    assert "JHMHI8qBe7bk2ZwO5U711o3dV_js" not in found and "4174216298" not in found and "T0ken" not in found


# --- Settings ----------------------------------------------------------------------------------------


def _settings(**values: str) -> BacklinksSettings:
    return BacklinksSettings.from_settings(Settings(values), {})


def test_the_webhook_must_be_signed() -> None:
    with pytest.raises(SettingsError, match="BACKLINKS_WEBHOOK_SECRET must be set"):
        _settings(BACKLINKS_WEBHOOK_URL="https://hooks.example/x?token=tok3n-value")
    with pytest.raises(SettingsError, match="http:// or https://") as bad:
        _settings(BACKLINKS_WEBHOOK_URL="ftp://tok3n-value@x", BACKLINKS_WEBHOOK_SECRET=SECRET)
    assert "tok3n-value" not in str(bad.value)


def test_settings_never_show_a_secret() -> None:
    with pytest.raises(SettingsError) as bad:
        _settings(BACKLINKS_NOTIFY_URLS="mailto://u:Pa55word@example.com bogus-Pa55word")
    assert "entry 2 is not a URL" in str(bad.value) and "Pa55word" not in str(bad.value)
    ours = _settings(BACKLINKS_WEBHOOK_URL="https://h.example/tok3n-value", BACKLINKS_WEBHOOK_SECRET=SECRET,
                     BACKLINKS_NOTIFY_URLS="json://tok3n-value@h.example")
    assert "tok3n-value" not in repr(ours) and SECRET not in repr(ours) and SECRET not in repr(ours.notify_config())


def test_apprise_urls_without_apprise_installed_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = config_module.importlib.util.find_spec
    monkeypatch.setattr(config_module.importlib.util, "find_spec", lambda name: None if name == "apprise" else real(name))
    with pytest.raises(SettingsError, match=re.escape("is set, but Apprise is not installed: pip install 'backlinks-verify[notify]'")):
        _settings(BACKLINKS_NOTIFY_URLS="mailto://u:p@example.com")
    assert _settings(BACKLINKS_WEBHOOK_URL="https://h.example/", BACKLINKS_WEBHOOK_SECRET=SECRET).notify_config().enabled


# --- Nights of checks, written straight through the store --------------------------------------------


def _import(url: str, tmp_path: Path) -> None:
    path = tmp_path / "tagged.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["referring_url", "target_url", "match", "tags"])
        writer.writerows([(r, MINE, "exact", "client-a") for r in A] + [(r, MINE, "exact", "client-b") for r in B])
    import_clean(url, path)


Look = Callable[[str], "str | LinkRecord | Status"]  # a link seen, a miss reason, or an inconclusive status


def _night(url: str, number: int, look: Look) -> int:
    """Run ``number`` over every backlink: ``look(referring_url)`` says what its check saw."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        backlinks = list(session.execute(select(Backlink.id, Backlink.referring_url, Backlink.target_url)))
    policy, lease = ChangePolicy(confirm_misses=1), timedelta(minutes=5)
    at = NIGHT + timedelta(days=number)
    ticket = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=at), {}), at)
    batch = []
    for i, r, t in backlinks:
        seen = look(r)
        page = PageFacts(url=r, final_url=r, http_status=200)
        if isinstance(seen, LinkRecord):
            batch.append(Observation(backlink_id=i, referring_url=r, target_url=t, checked_at=at, status=Status.LIVE,
                                     page=page, links=[seen], follow=True))
        elif isinstance(seen, Status):
            batch += observe_failure([DueBacklink(id=i, target_url=t)], r, seen, "timeout", at)
        else:
            batch.append(Observation(backlink_id=i, referring_url=r, target_url=t, checked_at=at,
                                     status=Status.MISSING_UNCONFIRMED, reason=seen, page=page))
    tally = batches.RunTally(worker_id=ticket.worker_id)
    batches.write_batch(sessions, ticket.run_id, batch, policy, tally)
    runs.claim(sessions, ticket, len(batch), lease, at)
    runs.leave(sessions, ticket, at + timedelta(minutes=5), "finished", tally, policy, lease)
    engine.dispose()
    return ticket.run_id


def _link(anchor: str = "old") -> LinkRecord:
    return LinkRecord(href=MINE, url=MINE, tag="a", anchor=anchor)


def _second_night(referring: str) -> str | LinkRecord:
    """a0 and b0 lose their link, a1's anchor changes (to something hostile), the rest stay."""
    if referring in (A[0], B[0]):
        return "link_removed"
    return _link(HOSTILE) if referring == A[1] else _link()


@pytest.fixture
def nights(db_url: str, tmp_path: Path) -> str:
    """Night 1: every link seen (first_seen only: nothing to alert); night 2: two lost, one anchor changed."""
    _import(db_url, tmp_path)
    _night(db_url, 1, lambda r: _link())
    _night(db_url, 2, _second_night)
    return db_url


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(receiver: HttpReceiver) -> None:
    receiver.reset()


def _config(receiver: HttpReceiver | None = None, **values: Any) -> NotifyConfig:
    webhook = f"{receiver.url}/hook?token=url-tok3n" if receiver else ""
    return NotifyConfig(**{"webhook_url": webhook, "webhook_secret": SECRET, "timeout": 0.5, "attempts": 2,
                           "backoff": 0.0, **values})


def _deliver(url: str, config: NotifyConfig, now: datetime | None = None, **kwargs: Any) -> list[Any]:
    engine = make_engine(url)
    try:
        return deliver(make_sessionmaker(engine), config, now=now or datetime.now(UTC), **kwargs)
    finally:
        engine.dispose()


def _rows(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(Delivery.__table__).order_by(Delivery.id))]
    engine.dispose()
    return rows


def _summary(url: str, run_id: int) -> str:
    """What `backlinks status --run N` prints (the CLI's engine outlives a CliRunner call)."""
    engine = make_engine(url)
    try:
        return run_summary(make_sessionmaker(engine), run_id)
    finally:
        engine.dispose()


def _alertable_ids(url: str, run_id: int) -> set[int]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        found = {e.id for e in session.scalars(select(Event).where(Event.run_id == run_id)) if alertable(e.kind, e.before)}
    engine.dispose()
    return found


def _sent_events(receiver: HttpReceiver) -> list[int]:
    return [e["event_id"] for r in receiver.received for e in json.loads(r.body)["events"]]


# --- The webhook, and what each delivery records -------------------------------------------------------


def test_the_webhook_sends_each_event_once_signed(nights: str, receiver: HttpReceiver) -> None:
    outcomes = _deliver(nights, _config(receiver), upto=2)
    assert [(o.ok, o.events, o.run_id) for o in outcomes] == [(True, 3, 2)]
    (request,) = receiver.received
    assert request.path == "/hook?token=url-tok3n"
    assert _documented_verifier()(request.body, request.headers["X-Backlinks-Signature"], SECRET)
    payload = json.loads(request.body)
    assert payload["run"]["id"] == 2 and payload["run"]["degraded"] is False
    assert request.headers["X-Backlinks-Delivery"] == payload["delivery_id"]
    kinds = sorted((e["kind"], e["referring_url"]) for e in payload["events"])
    assert kinds == [("anchor_changed", A[1]), ("lost", A[0]), ("lost", B[0])]
    changed = next(e for e in payload["events"] if e["kind"] == "anchor_changed")
    assert changed["before_link"]["anchors"] == ["old"] and changed["tags"] == ["client-a"]
    assert set(_sent_events(receiver)) == _alertable_ids(nights, 2)
    # A re-run, by hand or by the next run, sends nothing twice.
    assert _deliver(nights, _config(receiver), upto=2) == [] and _deliver(nights, _config(receiver), run=2) == []
    assert len(receiver.received) == 1
    rows = _rows(nights)
    assert [(r["channel"], r["status"], r["attempts"], r["run_id"]) for r in rows] == [("webhook", "sent", 1, 2)] * 3


@pytest.mark.parametrize("failure", ["down", "slow", "500"])
def test_a_receiver_that_fails_loses_nothing(nights: str, receiver: HttpReceiver, failure: str) -> None:
    config = _config(receiver)
    if failure == "down":
        config = _config(webhook_url=f"http://127.0.0.1:{closed_port()}/hook")
    else:
        receiver.mode = failure
        receiver.delay = 1.5  # beyond the 0.5 s timeout
    (failed,) = _deliver(nights, config, upto=2)
    expected = {"down": "connection refused", "slow": "no answer within 0.5 s", "500": "answered HTTP 500"}[failure]
    assert (failed.ok, failed.error) == (False, expected)
    rows = _rows(nights)
    assert {(r["status"], r["attempts"], r["last_error"]) for r in rows} == {("failed", 2, expected)}
    assert receiver.received == []
    # The receiver is back: the next run's end (here run 2's again) delivers the events, once.
    receiver.reset()
    (sent,) = _deliver(nights, _config(receiver), upto=2)
    assert sent.ok and sorted(_sent_events(receiver)) == sorted(_alertable_ids(nights, 2))
    assert _deliver(nights, _config(receiver), upto=2) == []
    assert {(r["status"], r["attempts"], r["last_error"]) for r in _rows(nights)} == {("sent", 3, None)}


def test_retries_back_off_and_a_client_error_is_not_retried(receiver: HttpReceiver) -> None:
    waits: list[float] = []
    receiver.mode = "500"
    tried = senders.post_webhook(f"{receiver.url}/hook", SECRET, b"{}", delivery_id="d", timeout=1, attempts=4,
                                 backoff=1.5, sleep=waits.append)
    assert (tried.ok, tried.attempts, tried.error, waits) == (False, 4, "answered HTTP 500", [1.5, 3.0, 6.0])
    for status, error in (("401", "answered HTTP 401"), ("301", "answered HTTP 301 (a redirect: give the webhook's final URL)")):
        receiver.mode = status
        tried = senders.post_webhook(f"{receiver.url}/hook", SECRET, b"{}", delivery_id="d", timeout=1, attempts=4,
                                     backoff=1.5, sleep=waits.append)
        assert (tried.ok, tried.attempts, tried.error, waits) == (False, 1, error, [1.5, 3.0, 6.0])  # no new wait
    assert receiver.received == []


def test_two_senders_at_once_send_each_event_once(nights: str, receiver: HttpReceiver) -> None:
    # Two processes finishing at once (a crawl and `backlinks notify`): each subject is claimed once.
    config = _config(receiver, timeout=5.0)
    results: list[list[Any]] = []
    threads = [threading.Thread(target=lambda: results.append(_deliver(nights, config, upto=2))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(_sent_events(receiver)) == sorted(_alertable_ids(nights, 2))
    assert sum(o.events for result in results for o in result) == 3


def test_a_run_that_never_notified_is_caught_up(nights: str, receiver: HttpReceiver) -> None:
    _deliver(nights, _config(receiver), upto=2)
    degraded = _night(nights, 3, lambda r: Status.TIMEOUT)  # ended without notifying (killed, say)
    recovered = _night(nights, 4, lambda r: _link() if r == A[0] else _link(HOSTILE) if r == A[1] else "link_removed" if r == B[0] else _link())
    receiver.reset()
    outcomes = _deliver(nights, _config(receiver), upto=recovered)
    assert [(o.run_id, o.events) for o in outcomes] == [(degraded, 0), (recovered, 1)]
    notice, changes = (json.loads(r.body) for r in receiver.received)
    assert notice["run"]["degraded"] is True and notice["events"] == []
    assert [(e["kind"], e["referring_url"], e["before"].split()[0]) for e in changes["events"]] == [("recovered", A[0], "lost")]
    assert _deliver(nights, _config(receiver), upto=recovered) == []
    assert ("webhook", f"run:{degraded}", "sent") in {(r["channel"], r["subject"], r["status"]) for r in _rows(nights)}


def test_a_sender_that_died_mid_send_is_replaced_once_its_claim_is_stale(nights: str, receiver: HttpReceiver) -> None:
    config = _config(receiver)
    engine = make_engine(nights)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions() as session:
        (item,) = deliveries.due(session, "webhook", "", upto=2, stale_before=now - config.stale)
    assert len(deliveries.claim(sessions, "webhook", "", item, now, now - config.stale)) == 3  # ...then killed
    engine.dispose()
    assert _deliver(nights, config, upto=2) == [] and receiver.received == []  # another process is on it
    later = _deliver(nights, config, now=now + config.stale + timedelta(minutes=1), upto=2)
    assert [o.events for o in later] == [3] and sorted(_sent_events(receiver)) == sorted(_alertable_ids(nights, 2))


def test_a_large_run_goes_in_several_requests(nights: str, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify_module, "chunks", lambda events: alerts.chunks(events, 2))  # 100 in production
    outcomes = _deliver(nights, _config(receiver), upto=2)
    assert [(o.ok, o.events) for o in outcomes] == [(True, 2), (True, 1)]
    bodies = [json.loads(r.body) for r in receiver.received]
    assert len({b["delivery_id"] for b in bodies}) == 2 and all(b["run"]["id"] == 2 for b in bodies)
    assert sorted(_sent_events(receiver)) == sorted(_alertable_ids(nights, 2))


def test_a_dry_run_sends_and_records_nothing(nights: str, receiver: HttpReceiver) -> None:
    (preview,) = _deliver(nights, _config(receiver), upto=2, dry_run=True)
    assert preview.events == 3 and '"schema_version": 1' in preview.preview
    assert SECRET not in preview.preview and "url-tok3n" not in preview.preview
    assert receiver.received == [] and _rows(nights) == []


# --- Digests through Apprise ------------------------------------------------------------------------------


def test_per_tag_digests_through_apprise_json(nights: str, receiver: HttpReceiver) -> None:
    config = _config(apprise_urls=(f"json://127.0.0.1:{receiver.server.server_address[1]}/digest",),
                     tags=("client-a", "client-b"))
    outcomes = _deliver(nights, config, upto=2)
    assert [(o.channel.label, o.ok, o.events) for o in outcomes] == [
        ("digest 1 (json://...) for tag client-a", True, 2), ("digest 1 (json://...) for tag client-b", True, 1)
    ]
    first, second = (json.loads(r.body) for r in receiver.received)
    assert first["title"] == "Backlinks [client-a]: run 2: 1 lost, 1 anchor changed"
    assert A[0] in first["message"] and A[1] in first["message"] and "b0.example" not in first["message"]
    assert second["title"] == "Backlinks [client-b]: run 2: 1 lost"
    assert B[0] in second["message"] and "a0.example" not in second["message"] and "a1.example" not in second["message"]
    assert "<script>" not in first["message"] and "\n- fake line" not in first["message"]
    assert _deliver(nights, config, upto=2) == []
    assert {(r["channel"], r["tag"], r["status"]) for r in _rows(nights)} == {
        ("apprise:1:json", "client-a", "sent"), ("apprise:1:json", "client-b", "sent")
    }


def test_an_apprise_receiver_that_is_down_or_slow_loses_nothing(nights: str, receiver: HttpReceiver) -> None:
    port = receiver.server.server_address[1]
    receiver.mode, receiver.delay = "slow", 1.5
    (slow,) = _deliver(nights, _config(apprise_urls=(f"json://127.0.0.1:{port}/digest?rto=0.5",)), upto=2)
    assert not slow.ok and slow.error
    (down,) = _deliver(nights, _config(apprise_urls=(f"json://127.0.0.1:{closed_port()}/digest",)), upto=2)
    assert not down.ok
    receiver.reset()
    (sent,) = _deliver(nights, _config(apprise_urls=(f"json://127.0.0.1:{port}/digest",)), upto=2)
    assert sent.ok and sent.events == 3 and len(receiver.received) == 1
    assert _deliver(nights, _config(apprise_urls=(f"json://127.0.0.1:{port}/digest",)), upto=2) == []


def test_an_apprise_url_apprise_cannot_use_is_a_failed_delivery(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        tried = senders.send_apprise("nosuchservice://user:Pa55-word@host.example/t0ken-value", 2, "t", "b",
                                     attempts=3, backoff=0)
    assert tried == senders.Attempt(False, 0, "Apprise cannot use URL 2 (nosuchservice://...): unknown scheme or bad form")
    assert "Pa55-word" not in caplog.text and "t0ken-value" not in caplog.text


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpReceiver]:
    with smtp_receiver() as server:
        yield server


def test_a_digest_by_email_to_a_local_smtp_server(nights: str, smtp: SmtpReceiver) -> None:
    smtp.messages.clear()
    (sent,) = _deliver(nights, _config(apprise_urls=(smtp.url(),), limit=1), upto=2)
    assert sent.ok, sent.error
    (mail,) = smtp.messages
    assert mail["Subject"] == "Backlinks: run 2: 2 lost, 1 anchor changed" and mail["To"] == "me@mine.test"
    body = mail.get_content()
    assert "Lost (2)" in body and "and 1 more (backlinks changes --run 2 --kind lost)" in body
    assert "<script>" not in body and "@everyone" not in body


def test_secrets_never_reach_logs_the_database_or_output(nights: str, smtp: SmtpReceiver, caplog: pytest.LogCaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    dead = closed_port()
    smtp_down = f"mailto://alerts:{smtp.password}@127.0.0.1:{dead}?mode=insecure&from=a@mine.test&to=me@mine.test"
    discord = "json://tok3n-Discord-Like@127.0.0.1:%d/api/webhooks/123/Secret-Path-Token" % dead
    config = _config(webhook_url=f"http://127.0.0.1:{dead}/hook?token=url-tok3n", apprise_urls=(smtp_down, discord))
    with caplog.at_level(logging.DEBUG):
        outcomes = _deliver(nights, config, upto=2)
    assert [o.ok for o in outcomes] == [False, False, False]
    secrets = [SECRET, smtp.password, "url-tok3n", "tok3n-Discord-Like", "Secret-Path-Token"]
    shown = caplog.text + repr(outcomes)
    engine = make_engine(nights)
    with engine.connect() as connection:
        stored = repr(connection.execute(text("SELECT * FROM deliveries")).all())
    engine.dispose()
    for env, value in {"BACKLINKS_WEBHOOK_URL": config.webhook_url, "BACKLINKS_WEBHOOK_SECRET": SECRET,
                       "BACKLINKS_NOTIFY_URLS": f"{smtp_down}, {discord}", "BACKLINKS_NOTIFY_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(env, value)
    result = runner.invoke(app, ["--database", nights, "notify"])
    assert result.exit_code == 1 and "not delivered" in result.stderr
    dry = runner.invoke(app, ["--database", nights, "notify", "--run", "2", "--dry-run"])
    assert dry.exit_code == 0 and "would send to digest 2 (json://...)" in dry.stdout
    status = _summary(nights, 2)  # what `backlinks status --run 2` prints
    assert "Alerts: apprise:1:mailto: 3 failed" in status
    for secret in secrets:
        for where, what in (("logs", shown), ("database", stored), ("notify", result.output + result.stderr),
                            ("dry run", dry.output), ("status", status)):
            assert secret not in what, (secret, where)


# --- `backlinks notify` -----------------------------------------------------------------------------------


def _env(monkeypatch: pytest.MonkeyPatch, receiver: HttpReceiver | None, url: str | None = None) -> None:
    monkeypatch.setenv("BACKLINKS_WEBHOOK_URL", url or f"{receiver.url}/hook")  # type: ignore[union-attr]
    monkeypatch.setenv("BACKLINKS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("BACKLINKS_NOTIFY_ATTEMPTS", "1")


def test_notify_by_hand(nights: str, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKLINKS_WEBHOOK_URL", raising=False)
    nothing = runner.invoke(app, ["--database", nights, "notify"])
    assert nothing.exit_code == 2 and "no alert channel" in nothing.stderr
    _env(monkeypatch, receiver, f"http://127.0.0.1:{closed_port()}/hook")
    failed = runner.invoke(app, ["--database", nights, "notify", "--run", "last"])
    assert failed.exit_code == 1
    assert failed.stderr.strip().splitlines() == [
        "error: webhook (127.0.0.1:%s): run 2, 3 changes not delivered: connection refused" % failed.stderr.split(":")[2].split(")")[0]
    ]
    assert "Alerts: webhook: 3 failed (connection refused); `backlinks notify --run 2` tries again" in _summary(nights, 2)
    _env(monkeypatch, receiver)
    dry = runner.invoke(app, ["--database", nights, "notify", "--dry-run"])
    assert dry.exit_code == 0 and '"kind": "lost"' in dry.stdout and receiver.received == []
    sent = runner.invoke(app, ["--database", nights, "notify", "--run", "2"])
    assert sent.exit_code == 0 and sent.stdout.startswith("sent to webhook (127.0.0.1:") and len(receiver.received) == 1
    again = runner.invoke(app, ["--database", nights, "notify", "--run", "2"])
    assert (again.exit_code, again.stdout.strip()) == (0, "Nothing to send.")
    assert runner.invoke(app, ["--database", nights, "notify", "--run", "9"]).exit_code == 2


def test_notify_without_the_extra_says_how_to_install_it(nights: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = config_module.importlib.util.find_spec
    monkeypatch.setattr(config_module.importlib.util, "find_spec", lambda name: None if name == "apprise" else real(name))
    monkeypatch.setenv("BACKLINKS_NOTIFY_URLS", "mailto://alerts:Pa55-word@example.com")
    result = runner.invoke(app, ["--database", nights, "notify"])
    assert result.exit_code == 2 and "Pa55-word" not in result.output + result.stderr
    assert result.stderr.strip() == (
        "error: bad settings: BACKLINKS_NOTIFY_URLS is set, but Apprise is not installed: pip install 'backlinks-verify[notify]'"
    )


# --- At the end of a run: the run service -------------------------------------------------------------------


def _service(url: str, webhook: str) -> RunService:
    values = Settings()
    values.setmodule(project, priority="project")
    values.setdict({"BACKLINKS_DATABASE_URL": url, "BACKLINKS_CONFIRM_MISSES": "1", "BACKLINKS_WEBHOOK_URL": webhook,
                    "BACKLINKS_WEBHOOK_SECRET": SECRET, "BACKLINKS_NOTIFY_ATTEMPTS": "1",
                    "BACKLINKS_WEBHOOK_TIMEOUT": "0.5"}, priority="cmdline")
    return RunService.from_crawler(get_crawler(VerifySpider, values.copy_to_dict()))


async def _crawl(url: str, webhook: str, live: bool) -> RunService:
    service = _service(url, webhook)
    await service.join(runs.WorkOrder(due=DueFilter(cutoff=datetime.now(UTC)), arguments={"all": True}))
    observations = []
    async for page in service.due_pages():
        now = datetime.now(UTC)
        for backlink in page.backlinks:
            facts = PageFacts(url=page.url, final_url=page.url, http_status=200)
            observations.append(Observation(
                backlink_id=backlink.id, referring_url=page.url, target_url=backlink.target_url, checked_at=now, page=facts,
                status=Status.LIVE if live else Status.MISSING_UNCONFIRMED, reason=None if live else "link_removed",
                links=[_link()] if live else [], follow=True if live else None,
            ))
    await service.store(observations)
    await service.spider_closed("finished")
    return service


@deferred_f_from_coro_f
async def test_a_run_sends_its_alerts_when_it_ends(tmp_path: Path, receiver: HttpReceiver,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'run.sqlite'}"
    _import(url, tmp_path)
    down = f"http://127.0.0.1:{closed_port()}/hook"
    first = await _crawl(url, down, live=True)  # first_seen only: nothing to send, nothing fails
    assert first.crawler.stats.get_value(NOTIFY_FAILED) is None
    with caplog.at_level(logging.INFO):
        second = await _crawl(url, down, live=False)  # its losses are confirmed as the run closes
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "not delivered" in r.getMessage()]
    assert warnings == [
        "Run 2: webhook (127.0.0.1:%d): run 2's 5 changes not delivered (connection refused); the next run or "
        "`backlinks notify --run 2` tries again" % int(down.split(":")[2].split("/")[0])
    ]
    stats = second.crawler.stats.get_stats()
    assert stats[NOTIFY_FAILED] == 1 and outcome({**stats, "finish_reason": "finished"})[0] is ExitCode.NOT_NOTIFIED
    assert "Alerts: webhook: 5 failed (connection refused)" in caplog.text  # in the run's summary
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:  # the crawl's verdicts stand
        assert {s.status for s in session.scalars(select(State))} == {Status.LOST.value}
    engine.dispose()
    # The next run (nothing changed in it) delivers what failed, once.
    third = await _crawl(url, f"{receiver.url}/hook", live=False)
    assert sorted(_sent_events(receiver)) == sorted(_alertable_ids(url, 2))
    assert third.crawler.stats.get_value(NOTIFY_FAILED) is None and third.crawler.stats.get_value("backlinks/notify/sent") == 1


# --- End to end: real crawls of the demo web, two nights ------------------------------------------------------


def test_two_real_nights_send_each_event_once(tmp_path: Path, receiver: HttpReceiver) -> None:
    from crawler.demo.run import Demo, crawl  # noqa: PLC0415 (starts a web server)

    demo = Demo.prepare(tmp_path)
    hook = {"BACKLINKS_WEBHOOK_URL": f"{receiver.url}/hook", "BACKLINKS_WEBHOOK_SECRET": SECRET}
    try:
        for night in (1, 2):
            demo.site.night = night
            result = crawl(demo.database_url, ["all=1"], hook, log_level="INFO")
            assert result.returncode == 0, result.stderr[-3000:]
            assert SECRET not in result.stderr + result.stdout
    finally:
        demo.site.stop()
    verify = _documented_verifier()
    assert all(verify(r.body, r.headers["X-Backlinks-Signature"], SECRET) for r in receiver.received)
    sent = _sent_events(receiver)
    assert len(sent) == len(set(sent)) and set(sent) == _alertable_ids(demo.database_url, 2) | _alertable_ids(demo.database_url, 1)
    kinds = {e["kind"] for r in receiver.received for e in json.loads(r.body)["events"]}
    assert {"lost", "anchor_changed", "follow_changed"} <= kinds, kinds
    again = runner.invoke(app, ["--database", demo.database_url, "notify"], env=hook)
    assert (again.exit_code, again.stdout.strip()) == (0, "Nothing to send.")
