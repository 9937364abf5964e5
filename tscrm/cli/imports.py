"""``tscrm import``: clients or leads from CSV/Excel files, a Teamsale account; history and undo."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from tscrm.cli.common import (
    JsonOption,
    console,
    new_table,
    parse_day,
    print_json,
    print_ok,
    show_time,
    state_of,
    text,
)
from tscrm.i18n import _

if TYPE_CHECKING:
    from tscrm.core.imports.pipeline import ImportReport

app = typer.Typer(help=_("Import clients or leads from CSV/Excel files or a Teamsale account; history and undo."), no_args_is_help=True)

OnDuplicate = Literal["skip", "update", "create"]
ERRORS_SHOWN = 20

FileArg = Annotated[Path, typer.Argument(metavar="FILE", help=_("A .csv or .xlsx file."))]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", metavar="COLUMN=FIELD", help=_("Put a column into a field, e.g. \"Móvil=mobile\" (FIELD empty or 'ignore': leave it out). Repeatable.")),
]
MappingOpt = Annotated[str | None, typer.Option("--mapping", metavar="NAME", help=_("Start from a saved mapping."))]
SaveMappingOpt = Annotated[str | None, typer.Option("--save-mapping", metavar="NAME", help=_("Save the mapping used under this name."))]
MatchOpt = Annotated[str, typer.Option("--match", help=_("What makes a row a duplicate: phone, email or phone,email."))]
OnDuplicateOpt = Annotated[OnDuplicate, typer.Option("--on-duplicate", help=_("What a duplicate row does: skip it, update the record, or create another."))]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help=_("Do everything but write; print the same report."))]
StrictOpt = Annotated[bool, typer.Option("--strict", help=_("Write nothing if any row has an error."))]
EncodingOpt = Annotated[str | None, typer.Option("--encoding", help=_("The file's encoding (default: detected), e.g. cp1252."))]
DelimiterOpt = Annotated[str | None, typer.Option("--delimiter", help=_("CSV delimiter (default: detected); 'tab' for tabs."))]
SheetOpt = Annotated[str | None, typer.Option("--sheet", help=_("Excel sheet name or number (default: the first)."))]
RegionOpt = Annotated[str | None, typer.Option("--region", help=_("Country of numbers without country code, e.g. ES (default: the company's)."))]
SourceOpt = Annotated[str | None, typer.Option("--source", help=_("Source of rows that have none, e.g. \"Fair 2026\"."))]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help=_("Tag every imported record with this. Repeatable."))]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help=_("No progress bar."))]


# --- progress -------------------------------------------------------------------------------------


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def row_progress(label: str, enabled: bool):
    """A progress bar with rows and rows/s on stderr (stdout stays clean for --json)."""
    err = _stderr()
    if not enabled or not err.is_terminal:
        yield lambda rows, fraction=None, total=None: None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} " + escape(_("rows"))),
        TextColumn("{task.fields[rate]:,.0f} " + escape(_("rows/s"))),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=100.0, rows=0, rate=0.0)

        def update(rows: int, fraction: float | None = None, total: int | None = None) -> None:
            elapsed = progress.tasks[task].elapsed or 0.0
            if fraction is None and total:
                fraction = rows / total
            progress.update(task, completed=(fraction or 0.0) * 100, rows=rows, rate=rows / elapsed if elapsed > 0 else 0.0)

        yield update


# --- file imports ---------------------------------------------------------------------------------


def _import_file(
    ctx: typer.Context,
    entity: Literal["client", "lead"],
    file: Path,
    *,
    map_: list[str] | None,
    mapping_name: str | None,
    save_mapping: str | None,
    match: str,
    on_duplicate: str,
    dry_run: bool,
    strict: bool,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    region: str | None,
    source: str | None,
    tags: list[str] | None,
    pool: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    from tscrm.core.imports import mapping as mapping_mod
    from tscrm.core.imports.pipeline import ImportOptions, parse_match, run_import
    from tscrm.core.imports.reading import TableReader
    from tscrm.core.services.company import check_region
    from tscrm.core.services.contacts import custom_fields

    state = state_of(ctx)
    database = state.database()
    options = ImportOptions(
        entity=entity,
        match=parse_match(match),
        on_duplicate=on_duplicate,  # type: ignore[arg-type]
        dry_run=dry_run,
        strict=strict,
        to_pool=pool,
        source=source,
        tags=tuple(tags or ()),
        region=check_region(region) if region else None,
    )
    options.check()
    with TableReader(file, encoding=encoding, delimiter=delimiter, sheet=sheet) as reader:
        with database.read() as session:
            actor = state.actor(session)
            custom = custom_fields(session, entity)
            saved = mapping_mod.load_mapping(session, mapping_name, entity) if mapping_name else None
            mapping = mapping_mod.mapping_for(
                reader.headers, entity, custom, saved=saved, overrides=mapping_mod.parse_overrides(map_)
            )
        label = _("Importing {file}").format(file=file.name)
        with row_progress(label, not quiet and not as_json) as update:
            report = run_import(database, actor, reader, mapping, options, progress=lambda p: update(p.rows, p.fraction))
    if save_mapping and not dry_run:
        with database.write() as session:
            mapping_mod.save_mapping(session, actor, save_mapping, mapping)
    if as_json:
        print_json(report.as_dict(), actor.timezone)
    else:
        print_report(report)
    if report.status == "rejected":
        raise typer.Exit(2)


def print_report(report: ImportReport) -> None:
    out = console()
    if report.dry_run:
        title = _("Dry run of {file}: nothing was written").format(file=report.file)
    elif report.status == "rejected":
        title = _("{file}: nothing was written (--strict and {n} rows with errors)").format(file=report.file, n=report.error_rows)
    else:
        title = _("Imported {file} (batch {id})").format(file=report.file, id=report.batch_id)
    table = new_table(title, [_("Rows"), _("Created"), _("Updated"), _("Skipped"), _("Duplicates"), _("Errors"), _("Phones"), _("Seconds")])
    table.add_row(
        f"{report.rows:,}", f"{report.created:,}", f"{report.updated:,}", f"{report.skipped:,}",
        f"{report.duplicates:,}", f"{report.error_rows:,}", f"{report.phones:,}", f"{report.seconds:.1f}",
    )
    out.print(table)
    from tscrm.core.imports.mapping import field_label

    mapped = [f"{text(c)} → {text(field_label(f))}" for c, f in report.mapping.items() if f]
    out.print(_("Columns: {columns}").format(columns=", ".join(mapped)), soft_wrap=True)
    if report.unmapped:
        out.print(_("Not imported (no field): {columns}").format(columns=", ".join(text(c) for c in report.unmapped)), soft_wrap=True)
    if report.errors:
        errors = new_table(_("Rows with errors (skipped)"), [_("Row"), _("Column"), _("Value"), _("Reason")], keep_whole=[_("Row")])
        for error in report.errors[:ERRORS_SHOWN]:
            errors.add_row(str(error.row), text(error.column), text(error.value), text(error.reason))
        out.print(errors)
        if report.error_rows > ERRORS_SHOWN:
            out.print(_("… and {n} more rows with errors (--json lists them all)").format(n=report.error_rows - ERRORS_SHOWN))
    if report.written and report.batch_id:
        out.print(_("Undo with: tscrm import undo {id}").format(id=report.batch_id))


@app.command("clients")
def import_clients(
    ctx: typer.Context,
    file: FileArg,
    map_: MapOpt = None,
    mapping: MappingOpt = None,
    save_mapping: SaveMappingOpt = None,
    match: MatchOpt = "phone,email",
    on_duplicate: OnDuplicateOpt = "skip",
    dry_run: DryRunOpt = False,
    strict: StrictOpt = False,
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    sheet: SheetOpt = None,
    region: RegionOpt = None,
    source: SourceOpt = None,
    tag: TagOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Import clients from a CSV or Excel file (one transaction: all of it or nothing)."""
    _import_file(
        ctx, "client", file, map_=map_, mapping_name=mapping, save_mapping=save_mapping, match=match,
        on_duplicate=on_duplicate, dry_run=dry_run, strict=strict, encoding=encoding, delimiter=delimiter,
        sheet=sheet, region=region, source=source, tags=tag, pool=False, quiet=quiet, as_json=as_json,
    )


@app.command("leads")
def import_leads(
    ctx: typer.Context,
    file: FileArg,
    map_: MapOpt = None,
    mapping: MappingOpt = None,
    save_mapping: SaveMappingOpt = None,
    match: MatchOpt = "phone,email",
    on_duplicate: OnDuplicateOpt = "skip",
    dry_run: DryRunOpt = False,
    strict: StrictOpt = False,
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    sheet: SheetOpt = None,
    region: RegionOpt = None,
    source: SourceOpt = None,
    tag: TagOpt = None,
    pool: Annotated[bool, typer.Option("--pool", help=_("Put the leads in the pool (unowned, unprocessed)."))] = False,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Import leads from a CSV or Excel file (yours, or with --pool into the pool)."""
    _import_file(
        ctx, "lead", file, map_=map_, mapping_name=mapping, save_mapping=save_mapping, match=match,
        on_duplicate=on_duplicate, dry_run=dry_run, strict=strict, encoding=encoding, delimiter=delimiter,
        sheet=sheet, region=region, source=source, tags=tag, pool=pool, quiet=quiet, as_json=as_json,
    )


# --- Teamsale -------------------------------------------------------------------------------------


@app.command("teamsale")
def import_teamsale(
    ctx: typer.Context,
    key: Annotated[str, typer.Option("--key", envvar="TEAMSALE_KEY", help=_("API key (my.zadarma.com/api)."))],
    secret: Annotated[str, typer.Option("--secret", envvar="TEAMSALE_SECRET", help=_("API secret."))],
    since: Annotated[str | None, typer.Option("--since", help=_("Only records created from this day on (YYYY-MM-DD)."))] = None,
    base_url: Annotated[str, typer.Option("--base-url", help=_("API address."))] = "https://api.zadarma.com",
    timezone: Annotated[str | None, typer.Option("--timezone", help=_("Time zone of the Teamsale account (default: the company's)."))] = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Pull customers, leads, deals, tasks, labels, UTM tags and calls from Teamsale (run again to update)."""
    from tscrm.core.imports.teamsale import import_teamsale as run
    from tscrm.core.services.company import get_company
    from tscrm.core.services.users import check_timezone
    from tscrm.integrations.teamsale_client import TeamsaleClient

    state = state_of(ctx)
    database = state.database()
    with database.read() as session:
        actor = state.actor(session)
        zone = check_timezone(timezone) if timezone else (get_company(session).timezone or "UTC")
    start = parse_day(since, zone, "--since")
    counted: dict[str, int] = {}
    with (
        TeamsaleClient(key, secret, base_url=base_url, timezone=zone) as client,
        row_progress(_("Importing from Teamsale"), not quiet and not as_json) as update,
    ):

        def tick(stage: str, count: int) -> None:
            counted[stage] = count
            update(sum(counted.values()))

        report = run(database, actor, client, since=start, timezone=zone, progress=tick)
    if as_json:
        print_json(report.as_dict(), actor.timezone)
        return
    table = new_table(_("Imported from Teamsale (batch {id})").format(id=report.batch_id), [_("Records"), _("Created"), _("Updated"), _("Unchanged"), _("Errors")])
    names = {"client": _("Clients"), "lead": _("Leads"), "deal": _("Deals"), "task": _("Tasks"), "call": _("Calls")}
    for entity, counts in report.counts.items():
        table.add_row(names.get(entity, entity), str(counts.created), str(counts.updated), str(counts.unchanged), str(counts.errors))
    console().print(table)
    for error in report.errors[:ERRORS_SHOWN]:
        console().print(f"{text(error.column)} {error.row}: {text(error.value)}: {text(error.reason)}", soft_wrap=True)
    print_ok(_("Undo with: tscrm import undo {id}").format(id=report.batch_id))


# --- history and undo -----------------------------------------------------------------------------


def batch_record(batch: Any) -> dict[str, Any]:
    return {
        "id": batch.id,
        "kind": batch.kind,
        "file": batch.file_name,
        "user_id": batch.user_id,
        "started_at": batch.started_at,
        "finished_at": batch.finished_at,
        "status": batch.status,
        "rows": batch.rows,
        "created": batch.created,
        "updated": batch.updated,
        "skipped": batch.skipped,
        "duplicates": batch.duplicates,
        "errors": batch.errors,
        "message": batch.message,
        "undone_at": batch.undone_at,
    }


@app.command("history")
def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help=_("At most this many imports."))] = 30,
    as_json: JsonOption = False,
) -> None:
    """Past imports, newest first: who, when, what file, what came of it."""
    from tscrm.cli.common import reading, user_names
    from tscrm.core.imports.pipeline import list_batches

    with reading(ctx) as (session, actor):
        batches = list_batches(session, actor, limit=limit)
        names = user_names(session, (b.user_id for b in batches))
        records = [{**batch_record(b), "user": names.get(b.user_id)} for b in batches]
    if as_json:
        print_json(records, actor.timezone)
        return
    if not records:
        console().print(_("No imports yet."))
        return
    table = new_table(
        _("Imports"),
        [_("Batch"), _("When"), _("Who"), _("What"), _("File"), _("Status"), _("Created"), _("Updated"), _("Skipped"), _("Errors")],
        keep_whole=[_("Batch"), _("When")],
    )
    for r in records:
        table.add_row(
            str(r["id"]), show_time(r["started_at"], actor.timezone), text(r["user"]), text(r["kind"]), text(r["file"]),
            text(r["status"]), str(r["created"]), str(r["updated"]), str(r["skipped"]), str(r["errors"]),
        )
    console().print(table)


@app.command("show")
def show_batch(
    ctx: typer.Context,
    batch_id: Annotated[int, typer.Argument(metavar="BATCH", help=_("Batch number (see tscrm import history)."))],
    as_json: JsonOption = False,
) -> None:
    """One import: its counts, mapping, options and the first rejected rows."""
    from tscrm.cli.common import reading
    from tscrm.core.imports.pipeline import get_batch

    with reading(ctx) as (session, actor):
        batch = get_batch(session, actor, batch_id)
        record = {**batch_record(batch), "mapping": batch.mapping, "options": batch.options, "error_sample": batch.error_sample, "undo_report": batch.undo_report}
    if as_json:
        print_json(record, actor.timezone)
        return
    out = console()
    out.print(_("Import {id}: {kind} from {file}, {status}").format(id=batch_id, kind=record["kind"], file=text(record["file"]), status=record["status"]))
    out.print(
        _("{rows} rows: {created} created, {updated} updated, {skipped} skipped, {errors} with errors").format(**record)
    )
    for error in record["error_sample"][:ERRORS_SHOWN]:
        out.print(_("row {row}, {column}: {value!r}: {reason}").format(**error), soft_wrap=True)


@app.command("undo")
def undo(
    ctx: typer.Context,
    batch_id: Annotated[int, typer.Argument(metavar="BATCH", help=_("Batch number (see tscrm import history)."))],
    force: Annotated[bool, typer.Option("--force", help=_("Also delete or restore records edited since the import."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Cancel an import: delete what it created, restore what it updated (records edited since are kept)."""
    from tscrm.core.imports.pipeline import import_undo_summary, undo_batch

    state = state_of(ctx)
    database = state.database()
    with database.read() as session:
        actor = state.actor(session)
    report = undo_batch(database, actor, batch_id, force=force)
    if as_json:
        print_json(report.as_dict(), actor.timezone)
        return
    print_ok(import_undo_summary(report))
    if report.kept:
        table = new_table(_("Edited since the import: left as they are (use --force to undo them too)"), [_("What"), _("ID"), _("Name"), _("Why")])
        for kept in report.kept:
            table.add_row(text(kept["entity"]), str(kept["id"]), text(kept["name"]), text(kept["reason"]))
        console().print(table)


@app.command("mappings")
def mappings(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Saved column mappings (use one with --mapping NAME)."""
    from tscrm.cli.common import reading
    from tscrm.core.imports.mapping import list_mappings

    with reading(ctx) as (session, actor):
        rows = [{"name": m.name, "entity": m.entity, "columns": m.columns} for m in list_mappings(session)]
    if as_json:
        print_json(rows, actor.timezone)
        return
    if not rows:
        console().print(_("No saved mappings."))
        return
    table = new_table(_("Saved mappings"), [_("Name"), _("For"), _("Columns")])
    for r in rows:
        table.add_row(text(r["name"]), text(r["entity"]), text(", ".join(f"{c}={f or '-'}" for c, f in r["columns"].items())))
    console().print(table)
