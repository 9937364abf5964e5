"""``tscrm schedule``: run what is due (for cron or a systemd timer), install that timer, see past runs.

What ``tscrm schedule run`` does, once per run (a second run started meanwhile does nothing):

- delayed SMS: SMS tasks whose time has come are sent to the client's / lead's mobile (else first)
  phone and marked done (tscrm.core.services.scheduler: exactly once, even if a run is killed);
- task reminder emails (``tscrm.core.services.mailing.send_reminders``, tasks due within 15 minutes),
  when a shared mail account exists;
- mail sync of every active account last synced ten minutes ago or more (``tscrm.mail.sync.sync_all``);
- calendar sync (CalDAV) of every active calendar account last synced ten minutes ago or more
  (``tscrm.calendar.sync.sync_all``).

Each of the last three runs only when its module is installed; a failure is reported, the rest goes on.
"""

from typing import Annotated, Any

import typer

from tscrm.cli.common import (
    JsonOption,
    console,
    new_table,
    print_json,
    print_ok,
    show_time,
    state_of,
    text,
)
from tscrm.i18n import _

app = typer.Typer(help=_("Scheduler: run what is due (delayed SMS, reminders, mail sync) from cron; install the timer."), no_args_is_help=True)

REMINDER_LEAD_MINUTES = 15
TIMER_NAME = "tscrm-schedule"


def _jobs() -> list[tuple[str, Any]]:
    """The jobs of other areas, each only if its code is there."""
    jobs: list[tuple[str, Any]] = []
    try:
        from tscrm.core.services.mailing import send_reminders
        from tscrm.mail.smtp import open_transport
    except ImportError:
        pass
    else:

        def reminders(db: Any, now: Any) -> str:
            from datetime import timedelta

            run = send_reminders(db, now, timedelta(minutes=REMINDER_LEAD_MINUTES), open_transport)
            return _("{sent} sent, {failed} failed").format(sent=len(run.sent), failed=len(run.failed))

        jobs.append(("reminders", reminders))
    try:
        from tscrm.mail.sync import sync_all
    except ImportError:
        pass
    else:

        def mail_sync(db: Any, now: Any) -> str:
            from tscrm.core.services.mail_accounts import accounts_due_for_sync

            with db.read() as session:
                due = accounts_due_for_sync(session, now)
            reports = sync_all(db, due) if due else []
            return _("{n} accounts").format(n=len(reports))

        jobs.append(("mail_sync", mail_sync))
    try:
        from tscrm.calendar.sync import sync_all as calendar_sync_all
    except ImportError:
        pass
    else:

        def calendar_sync(db: Any, now: Any) -> str:
            from tscrm.core.services.calendar_accounts import accounts_due_for_sync

            with db.read() as session:
                due = accounts_due_for_sync(session, now)
            reports = calendar_sync_all(db, due) if due else []
            failed = [r.error for r in reports if not r.ok]
            if failed:  # reported as this job's error (the scheduler goes on with the others)
                raise RuntimeError("; ".join(e or "" for e in failed))
            return _("{n} accounts").format(n=len(reports))

        jobs.append(("calendar_sync", calendar_sync))
    return jobs


@app.command("run")
def run(
    ctx: typer.Context,
    only_sms: Annotated[bool, typer.Option("--only-sms", help=_("Only the delayed SMS (no reminders, no mail sync)."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Do what is due now, once. Safe to start every minute: overlapping runs do nothing."""
    from tscrm.cli.sms import sms_backend
    from tscrm.core.services import scheduler

    db = state_of(ctx).database()
    report = scheduler.run_due(db, sms_backend=lambda: sms_backend(db), jobs=[] if only_sms else _jobs())
    record = {
        "ran": report.ran,
        "run_id": report.run_id,
        "sms_sent": [{"task_id": i.task_id, "number": i.number} for i in report.sent],
        "sms_failed": [{"task_id": i.task_id, "number": i.number, "error": i.error} for i in report.failed],
        "sms_uncertain": [{"task_id": i.task_id, "message_id": i.message_id, "number": i.number} for i in report.uncertain],
        "jobs": report.jobs,
        "errors": report.errors,
    }
    if as_json:
        print_json(record)
    elif not report.ran:
        console().print(_("Another scheduler run is in progress: nothing done."))
    else:
        out = console()
        out.print(_("SMS: {sent} sent, {failed} failed").format(sent=len(report.sent), failed=len(report.failed)))
        for item in report.failed:
            out.print(_("  task {task}: {number} {error}").format(task=item.task_id, number=item.number, error=text(item.error)))
        for item in report.uncertain:
            out.print(
                _("  task {task}: a killed run was sending this SMS to {number}; it may have gone out and is not sent again").format(
                    task=item.task_id, number=item.number
                )
            )
        for name, result in report.jobs.items():
            out.print(f"{name}: {text(result)}")
        for error in report.errors:
            out.print(f"[red]{text(error)}[/red]")
    if report.errors or report.failed or any(r.startswith("error") for r in report.jobs.values()):
        raise typer.Exit(1)


@app.command("status")
def status(ctx: typer.Context, limit: Annotated[int, typer.Option("--limit", help=_("How many runs."))] = 10, as_json: JsonOption = False) -> None:
    """The last runs (a run that never finished was killed) and the SMS whose sending is uncertain."""
    from tscrm.core.services import scheduler

    state = state_of(ctx)
    db = state.database()
    with db.read() as session:
        tz = state.actor(session).timezone
    runs = scheduler.last_runs(db, limit)
    uncertain = scheduler.uncertain_messages(db)
    if as_json:
        print_json(
            {
                "runs": [
                    {"id": r.id, "started_at": r.started_at, "finished_at": r.finished_at, "status": r.status, "host": r.host, "pid": r.pid, "summary": r.summary}
                    for r in runs
                ],
                "uncertain_sms": [{"id": m.id, "task_id": m.task_id, "number": m.number, "text": m.text} for m in uncertain],
            },
            tz,
        )
        return
    table = new_table(_("Scheduler runs"), [_("Id"), _("Started"), _("Finished"), _("Status"), _("Host"), _("SMS sent")], keep_whole=[_("Started")])
    for r in runs:
        table.add_row(str(r.id), show_time(r.started_at, tz), show_time(r.finished_at, tz), text(r.status), text(f"{r.host}:{r.pid}"), str(r.summary.get("sms_sent", "")))
    out = console()
    out.print(table)
    for m in uncertain:
        out.print(_("uncertain SMS {id} (task {task}) to {number}: check with the recipient").format(id=m.id, task=m.task_id, number=m.number))


def _command_line(ctx: typer.Context) -> str:
    import os
    import shlex
    import shutil
    import sys

    exe = shutil.which("tscrm") or f"{sys.executable} -m tscrm"
    parts = [exe]
    state = state_of(ctx)
    if state.db_option:
        parts += ["--db", shlex.quote(state.db_option)]
    elif os.environ.get("TSCRM_DATABASE_URL"):
        parts += ["--db", shlex.quote(os.environ["TSCRM_DATABASE_URL"])]
    who = state.who()
    if who:
        parts += ["--user", shlex.quote(who)]
    return " ".join(parts + ["schedule", "run"])


def crontab_line(command: str, every_minutes: int) -> str:
    return f"*/{every_minutes} * * * * {command} >/dev/null 2>&1  # {TIMER_NAME}"


def systemd_units(command: str, every_minutes: int) -> dict[str, str]:
    service = (
        "[Unit]\n"
        "Description=tscrm scheduler: delayed SMS, reminders, mail sync\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={command}\n"
    )
    timer = (
        "[Unit]\n"
        "Description=Run the tscrm scheduler\n\n"
        "[Timer]\n"
        f"OnCalendar=*:0/{every_minutes}\n"
        "Persistent=true\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{TIMER_NAME}.service": service, f"{TIMER_NAME}.timer": timer}


@app.command("install")
def install(
    ctx: typer.Context,
    systemd: Annotated[bool, typer.Option("--systemd", help=_("A systemd user timer instead of a crontab line."))] = False,
    every: Annotated[int, typer.Option("--every", metavar="MINUTES", help=_("How often to run."))] = 1,
    write: Annotated[bool, typer.Option("--write", help=_("Install it (crontab, or the unit files + systemctl --user enable)."))] = False,
) -> None:
    """Print (or with --write install) the crontab line or the systemd user timer for `tscrm schedule run`."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    from tscrm.core.errors import ConfigError, ValidationError

    if not 1 <= every <= 59:
        raise ValidationError(_("--every: between 1 and 59 minutes"), "every")
    command = _command_line(ctx)
    if not systemd:
        line = crontab_line(command, every)
        if not write:
            typer.echo(line)
            return
        if shutil.which("crontab") is None:
            raise ConfigError(_("crontab is not installed; add this line to your scheduler by hand: {line}").format(line=line))
        current = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
        lines = [l for l in (current.stdout if current.returncode == 0 else "").splitlines() if not l.rstrip().endswith(f"# {TIMER_NAME}")]
        lines.append(line)
        subprocess.run(["crontab", "-"], input="\n".join(lines) + "\n", text=True, check=True)
        print_ok(_("Installed in your crontab: {line}").format(line=line))
        return
    units = systemd_units(command, every)
    if not write:
        for name, body in units.items():
            typer.echo(f"# ~/.config/systemd/user/{name}")
            typer.echo(body)
        typer.echo(f"# systemctl --user daemon-reload && systemctl --user enable --now {TIMER_NAME}.timer")
        return
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"
    base.mkdir(parents=True, exist_ok=True)
    for name, body in units.items():
        (base / name).write_text(body)
    if shutil.which("systemctl") is not None:
        subprocess.run(["systemctl", "--user", "daemon-reload"], check=False)
        done = subprocess.run(["systemctl", "--user", "enable", "--now", f"{TIMER_NAME}.timer"], check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise ConfigError(
                _("Unit files written to {dir}, but systemctl failed: {error}").format(dir=base, error=(done.stderr or "").strip())
            )
        print_ok(_("Timer {name} installed and started (files in {dir})").format(name=TIMER_NAME, dir=base))
    else:
        print_ok(_("Unit files written to {dir}; enable them with: systemctl --user enable --now {name}.timer").format(dir=base, name=TIMER_NAME))
