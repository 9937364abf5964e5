"""``tscrm dial``: build call lists (tag, filter, file of numbers, clients, leads) and run the auto-dialer."""

from typing import Annotated, Any

import typer

from tscrm.cli.common import (
    JsonOption,
    console,
    fail,
    new_table,
    parse_time,
    print_json,
    print_ok,
    reading,
    state_of,
    text,
    writing,
)
from tscrm.i18n import _

app = typer.Typer(
    help=_("Auto-dialer: call lists from a tag, a filter or a file of numbers; run them."),
    invoke_without_command=True,
)


def call_backend(session: Any, user: Any) -> Any:
    """The user's configured call backend (SIP or Zadarma callback)."""
    try:
        from tscrm.telephony.factory import backend_for
    except ImportError as exc:  # pragma: no cover - the telephony area ships with tscrm
        from tscrm.core.errors import ConfigError

        raise ConfigError(_("No call backend is available in this installation")) from exc
    return backend_for(session, user)


@app.callback()
def create(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option("--tag", help=_("Every client and open lead with this tag."))] = None,
    filter_spec: Annotated[
        str | None, typer.Option("--filter", metavar="NAME|SPEC", help=_("Clients matching a saved filter (tscrm clients filters) or a filter like tag=vip,source=web,owner=me,mine,field.KEY=value."))
    ] = None,
    file: Annotated[str | None, typer.Option("--file", metavar="PATH", help=_("Numbers, one per line (CSV: number,name); - for stdin."))] = None,
    client: Annotated[list[int] | None, typer.Option("--client", metavar="ID", help=_("A client (repeatable)."))] = None,
    lead: Annotated[list[int] | None, typer.Option("--lead", metavar="ID", help=_("A lead (repeatable)."))] = None,
    name: Annotated[str | None, typer.Option("--name", metavar="LIST", help=_("The list's name (default: from the source and the date)."))] = None,
    all_phones: Annotated[
        bool | None, typer.Option("--all-phones/--first-phone", help=_("Call every phone of each client, or only the first (default: telephony settings)."))
    ] = None,
    shared: Annotated[bool, typer.Option("--shared", help=_("Colleagues may work the list too (each number goes to one agent)."))] = False,
    ring_timeout: Annotated[int, typer.Option("--ring-timeout", metavar="SECONDS", help=_("Hang up an unanswered call after this long."))] = 30,
    gap: Annotated[int, typer.Option("--gap", metavar="SECONDS", help=_("Pause between calls."))] = 5,
    any_hour: Annotated[bool, typer.Option("--any-hour", help=_("Do not skip numbers outside your working hours."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a call list: `tscrm dial --tag vip`, `--filter NAME`, `--file numbers.csv` [--name LIST].

    Then `tscrm dial run LIST`. Numbers on the do-not-call list are skipped; bad numbers of the file
    are reported with their line.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not any([tag, filter_spec, file, client, lead]):
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    from tscrm.cli.sms import _read_numbers
    from tscrm.core.services import dialer, saved_filters
    from tscrm.core.types import utcnow

    numbers_text = _read_numbers(file)
    with writing(ctx) as (session, actor):
        source = tag or filter_spec or (file and file.rsplit("/", 1)[-1]) or _("selection")
        list_name = name or f"{source} {utcnow().astimezone().strftime('%Y-%m-%d %H:%M')}"
        report = dialer.create_list(
            session,
            actor,
            name=list_name,
            client_ids=client or [],
            lead_ids=lead or [],
            tag=tag,
            client_filter=saved_filters.resolve_filter(session, actor, filter_spec) if filter_spec else None,
            numbers_text=numbers_text,
            all_phones=all_phones,
            shared=shared,
            ring_timeout_s=ring_timeout,
            gap_s=gap,
            check_hours=not any_hour,
        )
        record = {
            "id": report.list.id,
            "name": report.list.name,
            "to_call": report.added,
            "skipped": [{"number": n, "reason": dialer.skip_reason_text(r)} for n, r in report.skipped],
            "no_phone": report.no_phone,
            "bad_lines": [{"line": b.line, "text": b.text, "reason": b.reason} for b in report.bad_lines],
        }
    if as_json:
        print_json(record)
        return
    print_ok(_("Call list {id} {name!r}: {n} numbers to call").format(id=record["id"], name=record["name"], n=record["to_call"]))
    out = console()
    for item in record["skipped"]:
        out.print(_("skipped: {number}: {reason}").format(number=item["number"], reason=text(item["reason"])))
    for who in record["no_phone"]:
        out.print(_("no phone: {name}").format(name=text(who)))
    for bad in record["bad_lines"]:
        out.print(_("line {line}: {reason}").format(line=bad["line"], reason=text(bad["reason"])))


@app.command("lists")
def lists(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your call lists and the shared ones, with their progress."""
    from tscrm.core.services import dialer

    with reading(ctx) as (session, actor):
        rows = dialer.list_summaries(session, actor)
        tz = actor.timezone
    if as_json:
        print_json(rows, tz)
        return
    table = new_table(_("Call lists"), [_("Id"), _("Name"), _("Shared"), _("To call"), _("Done"), _("Skipped"), _("Interrupted")], keep_whole=[_("Id")])
    for r in rows:
        table.add_row(str(r["id"]), text(r["name"]), _("yes") if r["shared"] else "", str(r["pending"]), str(r["done"]), str(r["skipped"]), str(r["interrupted"]))
    console().print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    list_ref: Annotated[str, typer.Argument(metavar="LIST", help=_("The list's id or name."))],
    limit: Annotated[int, typer.Option("--limit", help=_("Show at most this many entries."))] = 200,
    as_json: JsonOption = False,
) -> None:
    """A call list's entries: state, outcome or skip reason, attempts."""
    from tscrm.core.models_dialer import EntryState
    from tscrm.core.services import dialer

    with reading(ctx) as (session, actor):
        call_list = dialer.get_list(session, actor, list_ref)
        counts = dialer.progress(session, call_list.id)  # type: ignore[arg-type]
        rows = [
            {
                "id": e.id,
                "position": e.position,
                "number": e.number,
                "name": e.name,
                "state": e.state,
                "outcome": e.outcome,
                "reason": dialer.skip_reason_text(e.skip_reason) if e.state == EntryState.SKIPPED else (e.skip_reason or ""),
                "attempts": e.attempts,
                "client_id": e.client_id,
                "lead_id": e.lead_id,
                "task_id": e.task_id,
            }
            for e in dialer.entries(session, call_list.id, limit=limit)  # type: ignore[arg-type]
        ]
        header = {
            "id": call_list.id,
            "name": call_list.name,
            "shared": call_list.shared,
            "ring_timeout_s": call_list.ring_timeout_s,
            "gap_s": call_list.gap_s,
            "all_phones": call_list.all_phones,
            "counts": {k.value: v for k, v in counts.items()},
        }
    if as_json:
        print_json({**header, "entries": rows})
        return
    out = console()
    out.print(
        _("{name}: ring {ring} s, gap {gap} s; {pending} to call, {done} done, {skipped} skipped, {dialling} interrupted").format(
            name=text(header["name"]),
            ring=header["ring_timeout_s"],
            gap=header["gap_s"],
            pending=counts["pending"] + counts["claimed"],  # type: ignore[index]
            done=counts["done"],  # type: ignore[index]
            skipped=counts["skipped"],  # type: ignore[index]
            dialling=counts["dialling"],  # type: ignore[index]
        )
    )
    table = new_table("", ["#", _("Number"), _("Name"), _("State"), _("Outcome"), _("Reason"), _("Tries")], keep_whole=["#", _("Number")])
    for r in rows:
        outcome = _(dialer.OUTCOME_LABELS[r["outcome"]]) if r["outcome"] else ""
        table.add_row(str(r["position"] + 1), text(r["number"]), text(r["name"]), text(_(dialer.STATE_LABELS[r["state"]])), text(outcome), text(r["reason"]), str(r["attempts"]))
    out.print(table)


@app.command("requeue")
def requeue(
    ctx: typer.Context,
    list_ref: Annotated[str, typer.Argument(metavar="LIST", help=_("The list's id or name."))],
    unanswered: Annotated[bool, typer.Option("--unanswered", help=_("No answer, busy, rejected, failed and cancelled calls."))] = False,
    out_of_hours: Annotated[bool, typer.Option("--out-of-hours", help=_("Numbers skipped as outside working hours."))] = False,
    interrupted: Annotated[bool, typer.Option("--interrupted", help=_("Calls whose result a crash lost (they may have rung once)."))] = False,
) -> None:
    """Put entries back in the queue for another round. Do-not-call numbers never come back."""
    from tscrm.core.models_dialer import DialOutcome
    from tscrm.core.services import dialer

    if not (unanswered or out_of_hours or interrupted):
        raise fail(_("Say what to call again: --unanswered, --out-of-hours and/or --interrupted"), "requeue")
    with writing(ctx) as (session, actor):
        call_list = dialer.get_list(session, actor, list_ref)
        count = 0
        if unanswered or out_of_hours:
            outcomes = [DialOutcome.NO_ANSWER, DialOutcome.BUSY, DialOutcome.REJECTED, DialOutcome.FAILED, DialOutcome.CANCELLED] if unanswered else []
            reasons = [dialer.SKIP_OUTSIDE_HOURS] if out_of_hours else []
            count += dialer.requeue(session, actor, call_list.id, outcomes=outcomes, skip_reasons=reasons)  # type: ignore[arg-type]
        if interrupted:
            for entry in dialer.interrupted_entries(session, call_list.id):  # type: ignore[arg-type]
                dialer.resolve_interrupted(session, actor, entry.id, requeue=True)  # type: ignore[arg-type]
                count += 1
    print_ok(_("{n} entries back in the queue").format(n=count))


OUTCOME_KEYS = {
    "i": "interested",
    "c": "call_back",
    "n": "not_interested",
    "w": "wrong_number",
    "d": "do_not_call",
}


@app.command("run")
def run(
    ctx: typer.Context,
    list_ref: Annotated[str, typer.Argument(metavar="LIST", help=_("The list's id or name."))],
) -> None:
    """Work through a list with your configured phone: prints each call, asks the outcome after each answered one.

    Ctrl+C stops (a call in progress is hung up if it is still ringing).
    """
    import queue

    from tscrm.core.services import dialer
    from tscrm.core.services.users import get_user
    from tscrm.telephony.dialer import DialerEngine, DialerPhase

    state = state_of(ctx)
    db = state.database()
    with db.read() as session:
        actor = state.actor(session)
        call_list = dialer.get_list(session, actor, list_ref)
        user = get_user(session, actor.id)
        backend = call_backend(session, user)
        extension = user.extension
    if hasattr(backend, "start"):
        backend.start()
    out = console()
    states: queue.Queue = queue.Queue()
    engine = DialerEngine(db, actor, call_list.id, backend)  # type: ignore[arg-type]
    feed = _pbx_feed(db, backend, extension)
    engine.subscribe(states.put)
    printed = _Printer(out, actor.timezone)
    try:
        if feed is not None:
            feed.start()
        engine.start()
        current = engine.state()
        printed.show(current)
        while current.phase not in (DialerPhase.FINISHED, DialerPhase.STOPPED):
            if current.phase == DialerPhase.PAUSED and current.error:
                out.print(_("Paused: {error}").format(error=text(current.error)))
                if not typer.confirm(_("Resume?"), default=False):
                    engine.stop()
                else:
                    engine.resume()
            if current.phase == DialerPhase.WRAP_UP:
                _ask_outcome(engine, actor.timezone)
            try:
                current = states.get(timeout=0.5)
            except queue.Empty:
                current = engine.state()
            printed.show(current)
    except (KeyboardInterrupt, typer.Abort):
        engine.stop()
        out.print(_("Stopped."))
    finally:
        if feed is not None:
            feed.stop()
        engine.close()
        if hasattr(backend, "close"):
            backend.close()
    final = engine.state()
    printed.show(final)
    c = final.counters
    out.print(
        _("Dialled {dialled}, answered {answered}, no answer {no_answer}, busy {busy}, failed {failed}, skipped {skipped}, talk time {talk}").format(
            dialled=c.dialled,
            answered=c.answered,
            no_answer=c.no_answer,
            busy=c.busy,
            failed=c.failed + c.rejected,
            skipped=c.skipped,
            talk=f"{c.talk_seconds // 60}:{c.talk_seconds % 60:02d}",
        )
    )
    for entry in final.interrupted:
        out.print(_("interrupted earlier (not called again): {number} {name}").format(number=entry.number, name=text(entry.name or "")))


def _pbx_feed(db: Any, backend: Any, extension: str | None) -> Any:
    """In desk-phone mode the call events come from the PBX webhooks ``tscrm serve`` stores: poll them."""
    from tscrm.telephony.zadarma import ZadarmaCallBackend

    if not isinstance(backend, ZadarmaCallBackend):
        return None
    from tscrm.telephony.pbx_feed import PbxEventFeed

    return PbxEventFeed(db, backend, extension)


def _ask_outcome(engine: Any, tz: str) -> None:
    from tscrm.core.errors import TscrmError
    from tscrm.core.models_dialer import DialOutcome
    from tscrm.core.services.dialer import OUTCOME_LABELS

    choices = ", ".join(f"{k}={_(OUTCOME_LABELS[DialOutcome(v)])}" for k, v in OUTCOME_KEYS.items())
    while True:
        key = typer.prompt(_("Outcome ({choices})").format(choices=choices)).strip().lower()[:1]
        if key not in OUTCOME_KEYS:
            continue
        callback_at = None
        if OUTCOME_KEYS[key] == "call_back":
            raw = typer.prompt(_("Call back when (YYYY-MM-DD HH:MM)"))
            try:
                callback_at = parse_time(raw, tz, "callback")
            except TscrmError as exc:
                console().print(text(str(exc)))
                continue
        try:
            engine.set_outcome(OUTCOME_KEYS[key], callback_at=callback_at)
            return
        except TscrmError as exc:
            console().print(text(str(exc)))


class _Printer:
    """Prints what changed between two dialer states: a call started, answered, each finished entry."""

    def __init__(self, out: Any, tz: str) -> None:
        self.out = out
        self.tz = tz
        self.seen_done = 0
        self.last_call: tuple[int, bool] | None = None

    def show(self, state: Any) -> None:
        from tscrm.core.services import dialer

        total_done = len(state.done)
        new = list(reversed(state.done[: max(0, total_done - self.seen_done)])) if total_done >= self.seen_done else []
        self.seen_done = total_done
        for item in new:
            who = f"{item.entry.number} {item.entry.name or ''}".strip()
            if item.outcome is not None:
                label = _(dialer.OUTCOME_LABELS[item.outcome])
                if item.talk_seconds:
                    label += f" ({item.talk_seconds // 60}:{item.talk_seconds % 60:02d})"
            else:
                label = _("skipped: {reason}").format(reason=dialer.skip_reason_text(item.reason))
            self.out.print(f"  {text(who)} — {text(label)}")
        if state.current is not None:
            key = (state.current.entry.entry_id, state.current.answered_at is not None)
            if key != self.last_call:
                self.last_call = key
                who = f"{state.current.entry.number} {state.current.entry.name or ''}".strip()
                if state.current.answered_at is None:
                    self.out.print(_("Calling {who} …").format(who=text(who)))
                else:
                    self.out.print(_("Answered: {who}").format(who=text(who)))
