"""``tscrm analytics``: tables, --json, filters, bad options and rights, on SQLite and PostgreSQL.

The data is the March 2026 team of tests/test_analytics.py; periods are custom (the real "now" moves).
"""

from __future__ import annotations

import json
from typing import get_args

import pytest

from tscrm.cli import analytics as cli_analytics
from tscrm.core.analytics import PeriodKind

from test_analytics import team  # noqa: F401  (the fixture)

MARCH = ("--from", "2026-03-01", "--to", "2026-03-31")


@pytest.fixture
def run(cli):
    return cli


def test_period_choices_are_the_core_ones():
    assert set(get_args(cli_analytics.PeriodChoice)) == {k.value for k in PeriodKind}


def test_summary_json_has_every_figure(run, team):  # noqa: F811
    out = json.loads(run("analytics", "summary", *MARCH, "--json").stdout)
    assert out["period"]["kind"] == "custom"
    assert (out["period"]["first"], out["period"]["last"]) == ("2026-03-01", "2026-03-31")
    assert out["period"]["start"] == "2026-03-01T00:00:00+01:00"  # the admin's zone, Europe/Madrid
    calls = out["calls"]["total"]
    assert (calls["total"], calls["answered"], calls["missed"], calls["talk_seconds"]) == (10, 4, 3, 221)
    assert len(out["calls"]["days"]) == 31
    assert out["deals"]["total"]["won_amount"] == "1420.00" and out["deals"]["total"]["win_rate"] == "66.7"
    assert [(s["status"], s["count"], s["amount"]) for s in out["deals"]["funnel"]][:2] == [("new", 1, "1000.00"), ("in_progress", 1, "1840.00")]
    assert [(s["source"], s["created"]) for s in out["leads"]["sources"]] == [("Web", 2), ("Fair", 1), (None, 1)]
    assert out["tasks"]["total"]["done"] == 3


def test_calls_table_per_agent(run, team):  # noqa: F811
    lines = run("analytics", "calls", *MARCH).stdout.splitlines()
    bob = next(line for line in lines if "Bob Boss" in line)
    assert [c.strip() for c in bob.split("│")[2:10]] == ["5", "3", "2", "3", "1", "1", "3:31", "1:10"]
    total = next(line for line in lines if "Total" in line)
    assert [c.strip() for c in total.split("│")[2:4]] == ["10", "4"]
    assert "(nobody)" in "\n".join(lines)


def test_deals_and_leads_tables(run, team):  # noqa: F811
    deals = run("analytics", "deals", *MARCH).stdout
    assert "€1,420.00" in deals and "€1,840.00" in deals and "66.7 %" in deals
    leads = run("analytics", "leads", *MARCH, "--agent", team[1].email).stdout
    bob = next(line for line in leads.splitlines() if "Bob Boss" in line)
    assert [c.strip() for c in bob.split("│")[2:6]] == ["2", "1", "1", "50.0 %"]
    assert "Carl Caller" not in leads


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (("--period", "year"), 2, "--period"),
        (("--from", "01/03/2026", "--to", "2026-03-31"), 2, "--from"),
        (("--from", "2026-03-31", "--to", "2026-03-01"), 2, "--to"),
        (("--period", "custom", "--from", "2026-03-01"), 2, "--to"),
        (("--period", "week", "--from", "2026-03-01"), 2, "--period"),
        (("--from", "2024-01-01", "--to", "2026-03-01"), 2, "--to"),
        (("--agent", "nobody@acme.test"), 3, "nobody@acme.test"),
        (("--group", "Pirates"), 3, "Pirates"),
        (("--agent", "100", "--group", "Admin"), 2, "--agent"),
    ],
)
def test_bad_options_are_named(run, team, args, code, named):  # noqa: F811
    result = run("analytics", "calls", *args, code=code)
    assert named in result.stderr and "Traceback" not in result.output


def test_rights(run, team):  # noqa: F811
    _admin, bob, carl, ivan = team
    denied = run("analytics", "summary", user=ivan.email, code=4)
    assert "See analytics" in denied.stderr
    run("analytics", "calls", "--agent", bob.email, user=carl.email, code=4)
    own = json.loads(run("analytics", "calls", *MARCH, "--json", user=carl.email).stdout)
    assert [a["agent"] for a in own["agents"]] == ["Carl Caller"] and own["total"]["total"] == 4


def test_help_lists_the_group(run):
    assert "analytics" in run("--help").stdout
    sub = run("analytics", "--help").stdout
    for command in ("calls", "deals", "leads", "tasks", "summary"):
        assert command in sub
