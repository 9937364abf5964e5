"""The command line: what a user types, what they see, what ends up in the database, the exit codes.

Mostly in-process with typer's CliRunner on SQLite (a copy of the migrated template), a few real
subprocesses for the console script and exit codes, and one PostgreSQL run of the main flow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from tscrm.cli import deals as cli_deals
from tscrm.cli import labels
from tscrm.cli import leads as cli_leads
from tscrm.cli import tasks as cli_tasks
from tscrm.cli.main import Language, app
from tscrm.core import migrate
from tscrm.core.db import Database
from tscrm.core.models import (
    Activity,
    ActivityKind,
    Client,
    Company,
    Deal,
    DealStatus,
    Lead,
    LeadStatus,
    PhoneKind,
    Task,
    TaskType,
    User,
)
from tscrm.i18n import LANGUAGES

from conftest import need_service

ADMIN = ("--admin-name", "Ana Admin", "--admin-email", "ana@acme.test", "--extension", "100")


class Cli:
    """Runs ``tscrm --db URL ...`` in-process; ``ok=True`` asserts success and shows the output if not."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that table cells are not wrapped

    def __call__(self, *args: Any, input: str | None = None, ok: bool = True, user: str | None = None):
        argv = ["--db", self.url, *(["--user", user] if user else []), *map(str, args)]
        result = self.runner.invoke(app, argv, input=input)
        if ok:
            assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        return result

    def json(self, *args: Any, user: str | None = None) -> Any:
        return json.loads(self(*args, "--json", user=user).stdout)

    def init(self) -> None:
        self("init", "--company", "Acme Telecom", *ADMIN, "--timezone", "Europe/Madrid", "--region", "ES")

    def database(self) -> Database:
        return Database(self.url)


@pytest.fixture
def cli(tmp_path: Path, sqlite_template: Path) -> Cli:
    """A migrated, empty SQLite database (no company yet)."""
    path = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, path)
    return Cli(f"sqlite:///{path}")


@pytest.fixture
def crm(cli: Cli) -> Cli:
    """The same, set up by ``tscrm init`` (Acme Telecom, admin Ana, Europe/Madrid, region ES)."""
    cli.init()
    return cli


def add_user(cli: Cli, name: str, email: str, extension: str, group: str = "Intern") -> None:
    from tscrm.core.services import users

    db = cli.database()
    with db.write() as s:
        admin = users.resolve_actor(s, "ana@acme.test")
        users.create_user(s, admin, name=name, email=email, group=group, extension=extension)
    db.dispose()


def rows(cli: Cli, model: type, *where: Any) -> list[Any]:
    db = cli.database()
    with db.read() as s:
        found = list(s.exec(select(model).where(*where)))
    db.dispose()
    return found


# --- init -------------------------------------------------------------------------------------


def test_init_on_a_new_file_migrates_and_sets_up(tmp_path: Path):
    cli = Cli(f"sqlite:///{tmp_path / 'new.db'}")
    out = cli.json("init", "--company", "Acme Telecom", *ADMIN, "--currency", "usd", "--timezone", "Europe/Madrid")
    assert out["company"] == {"id": 1, "name": "Acme Telecom", "currency": "USD", "region": None, "timezone": "Europe/Madrid"}
    assert out["admin"]["email"] == "ana@acme.test" and out["admin"]["extension"] == "100"
    [user] = rows(cli, User)
    assert (user.name, user.timezone) == ("Ana Admin", "Europe/Madrid")
    assert cli("db", "status", "--json").stdout.count('"up_to_date": true') == 1


def test_init_without_a_terminal_names_the_missing_option(cli: Cli):
    result = cli("init", "--company", "Acme", "--admin-name", "Ana", "--extension", "100", ok=False)
    assert result.exit_code == 2
    assert "--admin-email" in result.stderr
    assert rows(cli, Company) == []


def test_init_asks_for_what_is_missing_in_a_terminal(cli: Cli, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("tscrm.cli.setup.stdin_is_terminal", lambda: True)
    result = cli("init", "--extension", "100", input="Acme Telecom\nAna Admin\nana@acme.test\n")
    assert "Company name" in result.stdout
    [company] = rows(cli, Company)
    assert company.name == "Acme Telecom"


def test_init_twice_is_refused(crm: Cli):
    result = crm("init", "--company", "Other", *ADMIN, ok=False)
    assert result.exit_code == 5
    assert "already has a company" in result.stderr
    assert [c.name for c in rows(crm, Company)] == ["Acme Telecom"]


# --- clients ----------------------------------------------------------------------------------


def test_client_add_list_show_edit_delete(crm: Cli):
    added = crm.json(
        "clients", "add", "José García", "--phone", "612 345 678", "--phone", "mobile:+34 699 111 222",
        "--email", "Jose@Example.es", "--tag", "VIP", "--company", "Hola SL", "--source", "Web",
    )  # fmt: skip
    cid = added["id"]
    assert added["phones"] == [{"kind": "work", "number": "+34612345678"}, {"kind": "mobile", "number": "+34699111222"}]
    assert added["emails"] == ["jose@example.es"] and added["tags"] == ["VIP"] and added["owner"] == "Ana Admin"
    assert added["created_at"].endswith(("+01:00", "+02:00"))  # shown in Ana's zone, with the offset

    crm("clients", "add", "Zoe Zapata")
    listed = crm.json("clients", "list", "--tag", "vip")
    assert listed["total"] == 1 and [c["name"] for c in listed["clients"]] == ["José García"]
    table = crm("clients", "list").stdout
    assert "José García" in table and "Zoe Zapata" in table and "+34 612 34 56 78" in table

    crm("clients", "edit", cid, "--name", "José García Pérez", "--phone", "+34 611 000 111", "--add-tag", "web", "--remove-tag", "VIP")
    shown = crm.json("clients", "show", cid)
    assert shown["name"] == "José García Pérez"
    assert [p["number"] for p in shown["phones"]] == ["+34611000111"]
    assert shown["tags"] == ["web"]
    assert [e["kind"] for e in shown["feed"]][:2] == ["created", "edited"]
    text = crm("clients", "show", cid).stdout
    assert "José García Pérez" in text and "Client created" in text

    crm("clients", "delete", cid, "--yes")
    assert [c.name for c in rows(crm, Client)] == ["Zoe Zapata"]
    missing = crm("clients", "show", cid, ok=False)
    assert missing.exit_code == 3 and f"No client with id {cid}" in missing.stderr


def test_client_delete_asks_first(crm: Cli):
    cid = crm.json("clients", "add", "Keep Me")["id"]
    result = crm("clients", "delete", cid, input="n\n", ok=False)
    assert result.exit_code != 0 and "Delete client" in result.stdout
    assert len(rows(crm, Client)) == 1
    crm("clients", "delete", cid, input="y\n")
    assert rows(crm, Client) == []


def test_invalid_phone_exits_2_naming_the_number(crm: Cli):
    result = crm("clients", "add", "Bad Number", "--phone", "+34 12", ok=False)
    assert result.exit_code == 2
    assert "+34 12" in result.stderr and "Traceback" not in result.output
    assert rows(crm, Client) == []


def test_unknown_custom_field_and_bad_option_values_are_named(crm: Cli):
    result = crm("clients", "add", "X", "--field", "vat", ok=False)
    assert result.exit_code == 2 and "--field" in result.stderr
    result = crm("clients", "list", "--since", "yesterday", ok=False)
    assert result.exit_code == 2 and "--since" in result.stderr


def test_search_finds_clients_leads_and_deals(crm: Cli):
    cid = crm.json("clients", "add", "Marta Solar", "--phone", "+34 612 345 678")["id"]
    crm("leads", "add", "Solar Lead", "--pool")
    crm("deals", "add", "--client", cid, "--title", "Solar panels")
    found = crm.json("clients", "search", "solar")
    assert {(h["kind"], h["name"]) for h in found["hits"]} == {
        ("client", "Marta Solar"),
        ("lead", "Solar Lead"),
        ("deal", "Solar panels"),
    }
    assert [h["name"] for h in crm.json("clients", "search", "345 678")["hits"]] == ["Marta Solar"]
    page = crm.json("clients", "search", "solar", "--limit", "2", "--page", "2")
    assert len(page["hits"]) == 1 and page["has_more"] is False
    table = crm("clients", "search", "solar").stdout
    assert "client" in table and "lead" in table and "deal" in table


# --- leads ------------------------------------------------------------------------------------


def test_pool_claim_and_close(crm: Cli):
    first = crm.json("leads", "add", "First Pool", "--pool", "--phone", "+33 6 12 34 56 78", "--utm-source", "google")
    second = crm.json("leads", "add", "Second Pool", "--pool")
    assert first["status"] == "unprocessed" and first["owner"] is None and first["utm"] == {"utm_source": "google"}
    assert [lead["name"] for lead in crm.json("leads", "list", "--pool")["leads"]] == ["First Pool", "Second Pool"]

    claimed = crm.json("leads", "claim", "--next")["claimed"]
    assert claimed["id"] == first["id"] and claimed["status"] == "in_progress"
    crm("leads", "claim", second["id"])
    assert crm.json("leads", "list", "--pool")["total"] == 0
    assert crm.json("leads", "list")["total"] == 2

    closed = crm.json("leads", "close", first["id"], "--as-client")
    client = crm.json("clients", "show", closed["client_id"])
    assert client["name"] == "First Pool" and client["phones"][0]["number"] == "+33612345678"
    crm("leads", "close", second["id"], "--bad", "--reason", "spam")
    by_id = {lead.id: lead for lead in rows(crm, Lead)}
    assert by_id[first["id"]].status == LeadStatus.FINISHED
    assert by_id[second["id"]].status == LeadStatus.BAD_QUALITY
    assert "The pool is empty" in crm("leads", "claim", "--next").stdout


def test_claim_of_a_lead_someone_else_holds(crm: Cli):
    add_user(crm, "Bob Agent", "bob@acme.test", "201")
    add_user(crm, "Carla Agent", "carla@acme.test", "202")
    lead = crm.json("leads", "add", "Hot Lead", "--pool")
    crm("leads", "claim", lead["id"], user="bob@acme.test")
    result = crm("leads", "claim", lead["id"], user="carla@acme.test", ok=False)
    assert result.exit_code == 5
    assert "already claimed by Bob Agent" in result.stderr
    [row] = rows(crm, Lead)
    assert row.owner_id == rows(crm, User, User.email == "bob@acme.test")[0].id


def test_lead_status_release_and_choice_errors(crm: Cli):
    lead = crm.json("leads", "add", "Mine")
    assert crm.json("leads", "status", lead["id"], "unprocessed")["status"] == "unprocessed"
    assert crm("leads", "status", lead["id"], "finished", ok=False).exit_code == 2  # closing has its own command
    crm("leads", "release", lead["id"])
    assert crm.json("leads", "list", "--pool")["leads"][0]["id"] == lead["id"]
    result = crm("leads", "close", lead["id"], ok=False)
    assert result.exit_code == 2 and "--as-client" in result.stderr
    assert crm("leads", "claim", ok=False).exit_code == 2


def test_user_from_the_environment(crm: Cli, monkeypatch: pytest.MonkeyPatch):
    add_user(crm, "Bob Agent", "bob@acme.test", "201")
    monkeypatch.setenv("TSCRM_USER", "201")  # an extension names a user too
    assert crm.json("leads", "add", "Bob's")["owner"] == "Bob Agent"
    assert crm("clients", "list", user="nobody@acme.test", ok=False).stderr.strip() == "No user nobody@acme.test"


# --- deals, tasks, notes ----------------------------------------------------------------------


def test_deals_add_list_move(crm: Cli):
    cid = crm.json("clients", "add", "Buyer")["id"]
    deal = crm.json("deals", "add", "--client", cid, "--title", "Fibre 600", "--amount", "1200,50")
    assert deal["amount"] == "1200.50" and deal["currency"] == "EUR" and deal["status"] == "new"
    moved = crm.json("deals", "move", deal["id"], "won")
    assert moved["status"] == "won" and moved["closed_at"] is not None
    [row] = rows(crm, Deal)
    assert (row.amount, row.status) == (Decimal("1200.50"), DealStatus.WON)
    assert crm.json("deals", "list", "--status", "won")["total"] == 1
    assert crm.json("deals", "list", "--status", "new")["total"] == 0
    assert "Fibre 600" in crm("deals", "list").stdout
    board = crm.json("deals", "board")
    assert {s["status"]: s["total"] for s in board["stages"]}["won"] == "1200.50"

    bad = crm("deals", "add", "--client", cid, "--title", "X", "--amount", "12.345", ok=False)
    assert bad.exit_code == 2 and "--amount" in bad.stderr
    wrong_stage = crm("deals", "list", "--status", "lost", ok=False)
    assert wrong_stage.exit_code == 2 and "--status" in wrong_stage.stderr


def test_tasks_in_the_users_time_zone(crm: Cli):
    cid = crm.json("clients", "add", "Callee")["id"]
    task = crm.json("tasks", "add", "Call back", "--type", "call", "--due", "2026-12-01 10:00", "--client", cid)
    assert task["due_at"] == "2026-12-01T10:00:00+01:00"
    [row] = rows(crm, Task)
    assert row.due_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC) and row.type == TaskType.CALL
    crm("tasks", "add", "Late one", "--due", "2020-01-01 09:00")

    overdue = crm.json("tasks", "list", "--overdue")
    assert [t["title"] for t in overdue["tasks"]] == ["Late one"] and overdue["tasks"][0]["overdue"] is True
    assert "2026-12-01 10:00" in crm("tasks", "list").stdout

    crm("tasks", "done", task["id"])
    assert [t["title"] for t in crm.json("tasks", "list")["tasks"]] == ["Late one"]
    assert len(crm.json("tasks", "list", "--done")["tasks"]) == 2
    feed = crm.json("clients", "show", cid)["feed"]
    assert [e["kind"] for e in feed][-2:] == ["task", "task_done"]

    bad = crm("tasks", "add", "When?", "--due", "next tuesday", ok=False)
    assert bad.exit_code == 2 and "--due" in bad.stderr


def test_notes_on_a_client_lead_or_deal(crm: Cli):
    cid = crm.json("clients", "add", "Noted")["id"]
    lead = crm.json("leads", "add", "Noted lead")
    deal = crm.json("deals", "add", "--client", cid, "--title", "Noted deal")
    crm("notes", "add", "--client", cid, "Wants a quote")
    crm("notes", "add", "--lead", lead["id"], "Call after 5")
    note = crm.json("notes", "add", "--deal", deal["id"], "Discount asked")
    assert note["client_id"] == cid  # a deal's note shows on its client too
    notes = rows(crm, Activity, Activity.kind == ActivityKind.NOTE)
    assert sorted(n.text for n in notes) == ["Call after 5", "Discount asked", "Wants a quote"]
    both = crm("notes", "add", "--client", cid, "--lead", lead["id"], "x", ok=False)
    assert both.exit_code == 2 and "--client" in both.stderr


# --- dashboard, plain tscrm, schema -----------------------------------------------------------


def test_dashboard_json_and_panels(crm: Cli):
    crm("clients", "add", "One")
    crm("leads", "add", "Pooled", "--pool")
    crm("tasks", "add", "Late", "--due", "2020-01-01 09:00")
    out = crm.json("dashboard")
    counters = out["counters"]
    assert (counters["clients_total"], counters["pool_unprocessed"], counters["my_overdue_tasks"]) == (1, 1, 1)
    assert out["company"] == "Acme Telecom"
    panels = crm("dashboard").stdout
    for title in ("Clients", "Leads", "Pool", "Tasks this week", "My tasks", "Calls today", "Calls this week"):
        assert title in panels


def test_plain_tscrm_prints_the_dashboard(crm: Cli):
    crm("clients", "add", "One")
    result = crm()
    assert "Acme Telecom" in result.stdout and "Calls this week" in result.stdout


def test_plain_tscrm_in_a_terminal_opens_the_app(crm: Cli, monkeypatch: pytest.MonkeyPatch):
    opened: list[tuple[Any, Any]] = []
    fake = types.ModuleType("tscrm.tui.app")
    fake.run_app = lambda db, actor: opened.append((db, actor))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tscrm.tui.app", fake)
    monkeypatch.setattr("tscrm.cli.main.interactive_terminal", lambda: True)
    result = crm()
    [(db, actor)] = opened
    assert db.url == crm.url and actor.email == "ana@acme.test"
    assert "Calls this week" not in result.stdout


def test_plain_tscrm_without_the_app_prints_the_dashboard(crm: Cli, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "tscrm.tui.app", None)  # as if it did not exist
    monkeypatch.setattr("tscrm.cli.main.interactive_terminal", lambda: True)
    assert "Calls this week" in crm().stdout


def test_schema_behind_names_the_fix(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url)
    migrate.upgrade(old, "0001")
    old.dispose()
    cli = Cli(url)
    result = cli("clients", "list", ok=False)
    assert result.exit_code == 6
    assert "Run `tscrm db upgrade`" in result.stderr and "Traceback" not in result.output
    assert cli.json("db", "status")["current"] == "0001"

    upgraded = cli("db", "upgrade").stdout
    backups = list(tmp_path.glob("old.db.*.bak"))
    assert len(backups) == 1 and backups[0].name in upgraded.replace("\n", "")
    assert "tscrm init" in cli("clients", "list", ok=False).stderr  # migrated, not set up yet


def test_database_not_set_up(tmp_path: Path):
    result = Cli(f"sqlite:///{tmp_path / 'none.db'}")("dashboard", ok=False)
    assert result.exit_code == 6 and "tscrm init" in result.stderr


def test_demo_fills_an_empty_database_and_refuses_a_full_one(tmp_path: Path):
    cli = Cli(f"sqlite:///{tmp_path / 'demo.db'}")
    summary = cli.json("demo", "--size", "20", "--seed", "3")["summary"]
    assert summary["clients"] == 20 == len(rows(cli, Client))
    again = cli("demo", "--size", "20", ok=False)
    assert again.exit_code == 5 and "--reset" in again.stderr
    assert cli.json("demo", "--size", "25", "--reset")["summary"]["clients"] == 25
    assert len(rows(cli, Client)) == 25


# --- the edges: enumerations, start-up, real processes ----------------------------------------


def test_choices_match_the_models():
    assert set(labels.PHONE_KINDS) == {k.value for k in PhoneKind}
    assert set(labels.LEAD_STATUSES) == {s.value for s in LeadStatus}
    assert list(labels.DEAL_STATUSES) == [s.value for s in DealStatus]
    assert set(labels.TASK_TYPES) == {t.value for t in TaskType}
    assert set(labels.ACTIVITY_KINDS) == {k.value for k in ActivityKind}
    assert list(get_args(cli_deals.Status)) == [s.value for s in DealStatus]
    assert set(get_args(cli_tasks.TaskTypeChoice)) == {t.value for t in TaskType}
    assert set(get_args(cli_leads.OpenStatus)) == {s.value for s in cli_leads_open_statuses()}
    assert set(get_args(Language)) == set(LANGUAGES)


def test_every_command_has_help():
    runner = CliRunner(env={"COLUMNS": "200"})
    groups = {"clients": 7, "leads": 7, "deals": 5, "tasks": 4, "notes": 1, "db": 2}
    for command in ("init", "demo", "dashboard"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "--json" in result.stdout, command
    for group, count in groups.items():
        commands = _commands_of(group)
        assert len(commands) == count, commands
        for command in commands:
            nested = _commands_of(group, command)
            for path in [[group, command, sub] for sub in nested] or [[group, command]]:
                result = runner.invoke(app, [*path, "--help"])
                assert result.exit_code == 0 and "--json" in result.stdout, " ".join(path)


def _commands_of(group: str, sub: str | None = None) -> list[str]:
    """The commands of a group (or of a group inside it; [] when ``sub`` is a plain command)."""
    from tscrm.cli.lazy import load_group

    command = load_group(group)
    if sub is not None:
        command = command.commands[sub]  # type: ignore[attr-defined]
    return sorted(getattr(command, "commands", {}))


def cli_leads_open_statuses():
    from tscrm.core.services.leads import OPEN_STATUSES

    return OPEN_STATUSES


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tscrm", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_help_does_not_load_the_database_layer():
    code = "import sys; import tscrm.cli.main; print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'alembic', 'textual') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_real_process_exit_codes(tmp_path: Path, sqlite_template: Path):
    path = tmp_path / "p.db"
    shutil.copyfile(sqlite_template, path)
    db = ["--db", f"sqlite:///{path}"]
    assert _run("--help").returncode == 0
    assert _run("--version").stdout.strip().startswith("tscrm ")
    assert _run(*db, "init", "--company", "Acme", *ADMIN, "--region", "ES").returncode == 0
    bad = _run(*db, "clients", "add", "X", "--phone", "12")
    assert bad.returncode == 2 and "12" in bad.stderr and "Traceback" not in bad.stderr
    unknown = _run(*db, "clients", "frobnicate")
    assert unknown.returncode == 2
    down = _run("--db", "postgresql://postgres@127.0.0.1:1/none", "clients", "list")
    assert down.returncode == 1 and "Database error" in down.stderr and "Traceback" not in down.stderr


# --- PostgreSQL -------------------------------------------------------------------------------


def test_main_flow_on_postgresql(postgres_server):
    if postgres_server.db is None:
        need_service("PostgreSQL", postgres_server.error or "not started")
    cli = Cli(postgres_server.fresh_database())
    cli.init()
    cid = cli.json("clients", "add", "Pg Client", "--phone", "612 345 678", "--tag", "VIP")["id"]
    lead = cli.json("leads", "add", "Pg Lead", "--pool")
    assert cli.json("leads", "claim", "--next")["claimed"]["id"] == lead["id"]
    converted = cli.json("leads", "close", lead["id"], "--as-client")["client_id"]
    deal = cli.json("deals", "add", "--client", cid, "--title", "Pg Deal", "--amount", "99.90")
    assert cli.json("deals", "move", deal["id"], "payment_expected")["amount"] == "99.90"
    cli("tasks", "add", "Pg task", "--due", "2026-12-01 10:00", "--client", cid)
    cli("notes", "add", "--client", converted, "From the pool")
    assert {h["kind"] for h in cli.json("clients", "search", "pg")["hits"]} == {"client", "deal"}
    counters = cli.json("dashboard")["counters"]
    assert counters["clients_total"] == 2 and counters["my_open_tasks"] == 1
    assert cli.json("db", "status")["up_to_date"] is True
    demo = cli("demo", "--size", "5", "--reset", ok=False)
    assert demo.exit_code != 0 and "SQLite" in demo.stderr
