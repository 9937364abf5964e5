"""Universal search: what it finds, in which order, for whom, and that it stays current.

Every test runs on SQLite (FTS5 trigram tables with sort-key rowids) and PostgreSQL (pg_trgm and
covering tie-order B-trees). ``test_pages_match_a_brute_force_ranking`` compares whole result lists
with an independent implementation of the ranking rules, with the PostgreSQL budgets shrunk so that
every fallback path runs on a few hundred rows.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from tscrm.core import search
from tscrm.core.models import Client, Lead, SearchEntry
from tscrm.core.permissions import Actor
from tscrm.core.services import clients, deals, leads
from tscrm.core.services.clients import new_contact
from tscrm.core.services.contacts import ContactInput, PhoneInput


def _client(db, actor: Actor, name: str, **kw) -> int:
    phones = kw.pop("phones", [])
    emails = kw.pop("emails", [])
    with db.write() as s:
        return clients.create_client(s, actor, new_contact(name, phones, emails, **kw)).id  # type: ignore[return-value]


def _lead(db, actor: Actor, name: str, *, to_pool: bool = False, **kw) -> int:
    phones = kw.pop("phones", [])
    with db.write() as s:
        data = ContactInput(name=name, phones=[PhoneInput(p) for p in phones], **kw)
        return leads.create_lead(s, actor, data, to_pool=to_pool).id  # type: ignore[return-value]


def _find(db, actor: Actor | None, query: str, **kw) -> list[tuple[str, int]]:
    with db.read() as s:
        return [(h.kind, h.id) for h in search.search(s, actor, query, **kw).hits]


def _names(db, actor: Actor | None, query: str, **kw) -> list[str]:
    with db.read() as s:
        return [h.name for h in search.search(s, actor, query, **kw).hits]


# --- what is found ----------------------------------------------------------------------------------


def test_finds_by_name_prefix_ignoring_accents_and_case(db, admin):
    jose = _client(db, admin, "José Pérez Núñez")
    _client(db, admin, "Ana López")
    for query in ("jos", "Jose", "JOSÉ", "josé pér", "perez", "núñez", "NUNEZ"):
        assert _find(db, admin, query) == [("client", jose)], query


def test_finds_by_company_email_and_tag(db, admin):
    cid = _client(db, admin, "Lucía Gómez", emails=["Lucia.Gomez@Example.es"], company_name="ACME Telecom S.L.", tags=["VIP", "Black Friday"])
    _client(db, admin, "Pedro Ruiz", emails=["pedro@otro.es"], company_name="Otra Empresa")
    for query in ("acme", "telecom s.l.", "lucia.gomez@example.es", "lucia.gom", "@example", "example.es", "vip", "black fri", "friday"):
        assert _find(db, admin, query) == [("client", cid)], query


def test_finds_phone_in_any_format_and_any_run_of_digits(db, admin):
    cid = _client(db, admin, "Carmen Vidal", phones=["+34 612 345 678"])
    _client(db, admin, "Otro Número", phones=["+33 6 98 76 54 32"])
    for query in ("612 34", "+34 612", "0034612", "34-612-345", "612345678", "(612) 345-678", "5678", "2345"):
        assert _find(db, admin, query) == [("client", cid)], query
    assert _find(db, admin, "06 98 76") == [("client", _find(db, admin, "Otro")[0][1])]  # French trunk 0
    assert _find(db, admin, "1111") == []


def test_finds_deals_by_title_and_by_their_client(db, admin):
    cid = _client(db, admin, "Nadia Romero")
    with db.write() as s:
        did = deals.create_deal(s, admin, client_id=cid, title="Fibra 600 Mb empresa", amount="45").id
    assert _find(db, admin, "fibra 600") == [("deal", did)]
    assert _find(db, admin, "romero") == [("client", cid), ("deal", did)]
    assert _find(db, admin, "romero", kinds=("deal",)) == [("deal", did)]
    assert _find(db, admin, "fibra", kinds=("client", "lead")) == []


def test_finds_open_leads_but_not_bad_quality_or_finished_ones(db, admin):
    open_lead = _lead(db, admin, "Irene Lozano", to_pool=True)
    bad = _lead(db, admin, "Irene Bad")
    done = _lead(db, admin, "Irene Convertida")
    with db.write() as s:
        leads.close_as_bad(s, admin, bad, "spam")
        client = leads.close_as_client(s, admin, done)
    assert _find(db, admin, "irene") == [("lead", open_lead), ("client", client.id)]


def test_unicode_names_and_short_queries(db, admin):
    cjk = _client(db, admin, "李小龍")
    greek = _client(db, admin, "Σωκράτης Παπαδόπουλος")
    _client(db, admin, "Bo")
    assert _find(db, admin, "李小") == [("client", cjk)]
    assert _find(db, admin, "σωκρ") == [("client", greek)]
    assert _names(db, admin, "b") == ["Bo"]
    assert _names(db, admin, "bo") == ["Bo"]


HOSTILE = ['"', "%", "_", "*", "OR", "a OR b", "NOT x", "NEAR(a b)", "^ma", "ma*", '"ma', "'", "\\", "--", "; DROP TABLE client",
           "日本", "😀", "  ", "", "a" * 400, "🙂 mar %_", "\x00", "\x01 ma", "@", "+", "00", "(", ")", "{name text}: ma"]


def test_hostile_queries_never_fail(db, admin, make_user):
    intern = make_user("Intern")
    _client(db, admin, "María Ortega", emails=["maria@ortega.es"], phones=["+34 611 222 333"])
    _client(db, intern, "Mario % Underscore_Man")
    for query in HOSTILE:
        for actor in (admin, intern, None):
            for kinds in (search.KINDS, ("lead",)):
                with db.read() as s:
                    page = search.search(s, actor, query, limit=5, offset=3, kinds=kinds)
                assert all(h.kind in kinds for h in page.hits), query
    assert _find(db, admin, "%") == [] and _find(db, admin, "_") == []  # punctuation alone finds nothing
    assert _names(db, admin, "mario %") == ["Mario % Underscore_Man"]
    assert _names(db, admin, "underscore_man") == ["Mario % Underscore_Man"]


# --- ranking and pages -----------------------------------------------------------------------------


def test_ranking_exact_prefix_name_word_other_word_substring(db, admin):
    ids = {
        name: _client(db, admin, name, **kw)
        for name, kw in {
            "Omar Khan": {},  # substring
            "Juan": {"company_name": "Primark"},  # substring in the company, shorter name
            "Pedro Gil": {"company_name": "Marketing Global"},  # a word of the company
            "Eva Sol": {"emails": ["mar.sol@mail.es"]},  # a word of an email
            "Ana Mar Ruiz": {},  # a later word of the name
            "Luis Marín": {},
            "Marco Polo": {},  # name prefix
            "Marta": {},
            "Marga": {},
            "Mar": {},  # exact
        }.items()
    }
    with db.read() as s:
        hits = search.search(s, admin, "mar").hits
    assert [h.name for h in hits] == [
        "Mar", "Marga", "Marta", "Marco Polo", "Luis Marín", "Ana Mar Ruiz", "Eva Sol", "Pedro Gil", "Juan", "Omar Khan"
    ]
    assert [h.score for h in hits] == [100, 80, 80, 80, 60, 60, 40, 40, 20, 20]
    assert {h.id for h in hits} == set(ids.values())


def test_multi_word_queries_match_words_in_any_order(db, admin):
    cid = _client(db, admin, "García López, María", company_name="Acme")
    assert _find(db, admin, "maria garcia") == [("client", cid)]
    assert _find(db, admin, "garcia lopez maria") == [("client", cid)]
    assert _find(db, admin, "maria acme") == [("client", cid)]
    assert _find(db, admin, "maria zzz") == []


def test_pages_are_stable_without_duplicates(db, admin, monkeypatch):
    with db.write() as s:
        for i in range(37):
            clients.create_client(s, admin, new_contact(f"Paginación {i:02d}", company_name="Páginas SA" if i % 3 else None))
    with db.read() as s:
        everything = search.search(s, admin, "pagin", limit=100)
        pages, offset = [], 0
        while True:
            page = search.search(s, admin, "pagin", limit=8, offset=offset)
            pages.append(page)
            if not page.has_more:
                break
            offset += 8
    seen = [(h.kind, h.id) for p in pages for h in p.hits]
    assert len(seen) == len(set(seen)) == 37
    assert seen == [(h.kind, h.id) for h in everything.hits]
    assert not everything.has_more and [len(p.hits) for p in pages] == [8, 8, 8, 8, 5]
    monkeypatch.setattr(search, "MAX_RESULTS", 20)  # paging stops there: refine the query instead
    with db.read() as s:
        last = search.search(s, admin, "pagin", limit=8, offset=16)
        beyond = search.search(s, admin, "pagin", limit=8, offset=20)
    assert [(h.kind, h.id) for h in last.hits] == seen[16:20] and not last.has_more
    assert beyond.hits == [] and not beyond.has_more


# --- who sees what --------------------------------------------------------------------------------------


def test_intern_sees_own_records_and_pool_leads_admin_sees_all(db, admin, make_user):
    intern = make_user("Intern", name="Iker Intern")
    other = make_user("Intern", name="Olga Other")
    mine = _client(db, intern, "Visible Cliente Mío")
    theirs = _client(db, other, "Visible Cliente Ajeno")
    admins = _client(db, admin, "Visible Cliente Admin")
    pool = _lead(db, admin, "Visible Lead Pool", to_pool=True)
    others_lead = _lead(db, other, "Visible Lead Ajeno")
    with db.write() as s:
        deal = deals.create_deal(s, other, client_id=theirs, title="Visible Deal Ajeno").id
    assert sorted(_find(db, intern, "visible")) == sorted([("client", mine), ("lead", pool)])
    assert sorted(_find(db, intern, "visible", limit=1, offset=1)) in ([("client", mine)], [("lead", pool)])
    assert sorted(_find(db, admin, "visible")) == sorted(
        [("client", mine), ("client", theirs), ("client", admins), ("lead", pool), ("lead", others_lead), ("deal", deal)]
    )
    with db.write() as s:
        leads.claim_lead(s, other, pool)
    assert _find(db, intern, "visible") == [("client", mine)]


# --- entries stay current --------------------------------------------------------------------------------


def test_entries_follow_edits_tags_deletes_and_conversion(db, admin):
    cid = _client(db, admin, "Antiguo Nombre", phones=["+34 699 000 111"])
    with db.write() as s:
        did = deals.create_deal(s, admin, client_id=cid, title="Contrato anual").id
        clients.update_client(s, admin, cid, name="Nuevo Nombre", phones=["+44 7911 123456"], emails=["nuevo@correo.es"])
    assert _find(db, admin, "antiguo") == []
    assert _find(db, admin, "nuevo nombre") == [("client", cid), ("deal", did)]  # the deal carries its client's name
    assert _find(db, admin, "699 000") == [] and _find(db, admin, "7911 123") == [("client", cid)]
    assert _find(db, admin, "correo.es") == [("client", cid)]
    with db.write() as s:
        clients.bulk_add_tags(s, admin, [cid], ["Renovación"])
    assert _find(db, admin, "renovacion") == [("client", cid)]
    with db.write() as s:
        clients.bulk_remove_tags(s, admin, [cid], ["renovación"])
    assert _find(db, admin, "renovacion") == []

    lid = _lead(db, admin, "Lead Convertible", phones=["+34 655 444 333"], tags=["Web"])
    assert _find(db, admin, "655 444") == [("lead", lid)]
    with db.write() as s:
        leads.update_lead(s, admin, lid, name="Lead Convertida")
        converted = leads.close_as_client(s, admin, lid).id
    assert _find(db, admin, "655 444") == [("client", converted)]
    assert _find(db, admin, "convertida") == [("client", converted)]

    with db.write() as s:
        clients.delete_client(s, admin, cid)
    assert _find(db, admin, "nuevo") == [] and _find(db, admin, "contrato") == []
    with db.read() as s:
        kinds = sorted(e.kind for e in s.exec(select(SearchEntry)))
    assert kinds == ["client"]


def test_postgres_planner_settings_are_restored_after_trigram_reads(db, admin, monkeypatch):
    """The trigram reads switch the planner to bitmap scans: the caller's session gets its own back."""
    if not db.is_postgres:
        pytest.skip("PostgreSQL planner settings")
    for i in range(45):  # the first entries in tie order, which the ordered scan reads in vain
        _client(db, admin, f"Zed {i:02d}")
    for name in ("Ana María García López", "Juan Carlos García Ortega"):
        _client(db, admin, name)
    bitmap_reads = []
    real = search._PostgresStreams._bitmap_rows
    monkeypatch.setattr(search._PostgresStreams, "_bitmap_rows", lambda self, sql, params: bitmap_reads.append(sql) or real(self, sql, params))
    monkeypatch.setattr(search, "PG_SCAN_BUDGET", 2)
    names = (*search.PG_BITMAP_ONLY, *search.PG_ORDERED_ONLY, "jit", "max_parallel_workers_per_gather")
    with db.read() as s:
        s.execute(text("SET LOCAL enable_indexscan = off"))  # one of the caller's own
        before = [s.execute(text(f"SELECT current_setting('{n}')")).scalar() for n in names]
        hits = search.search(s, admin, "arci", limit=1).hits
        after = [s.execute(text(f"SELECT current_setting('{n}')")).scalar() for n in names]
    assert [h.name for h in hits] == ["Ana María García López"] and bitmap_reads
    assert after == before


def test_postgres_deep_page_scans_to_the_end_in_order_and_restores_bitmap_scans(db, admin, monkeypatch):
    """A deep page of a common term, read by one ordered scan to the end (bitmap scans off for it):
    the same page as the brute-force order, and the caller's enable_bitmapscan back afterwards."""
    if not db.is_postgres:
        pytest.skip("PostgreSQL planner settings")
    names = [f"Zed {i:02d} Martin" for i in range(30)] + [f"Al {i:02d} Marta" for i in range(10)]
    for name in [*names, "Bo 1", "Bo 2", "Bo 3"]:  # the shortest names, first in tie order, do not match
        _client(db, admin, name)
    scans: list[str] = []
    real = search._PostgresStreams._ordered_to_the_end
    monkeypatch.setattr(search._PostgresStreams, "_ordered_to_the_end", lambda self, *a: scans.append("x") or real(self, *a))
    monkeypatch.setattr(search, "PG_SCAN_BUDGET", 2)
    monkeypatch.setattr(search, "PG_PREFETCH_PER_ROW", 0)  # the prefetch sees the first two entries only
    monkeypatch.setattr(search, "PG_SAMPLE", 3)
    monkeypatch.setattr(search, "PG_SORT_ALL_MAX", 1)
    monkeypatch.setattr(search, "PG_BAND_MAX_SHARE", 0.0)
    with db.read() as s:
        s.execute(text("SET LOCAL enable_bitmapscan = off"))
        s.execute(text("SET LOCAL enable_bitmapscan = on"))  # the caller's own value, set in this transaction
        page = search.search(s, admin, "mart", limit=5, offset=20)
        assert s.execute(text("SELECT current_setting('enable_bitmapscan')")).scalar() == "on"
    expected = sorted(names, key=lambda n: (len(n), n.lower()))[20:25]
    assert [h.name for h in page.hits] == expected and scans


def test_sqlite_index_follows_the_entries(sqlite_db):
    """The FTS5 rows are written by triggers: every entry has exactly its rows, in both tables."""
    from tscrm.core.services import company, users

    with sqlite_db.write() as s:
        _, user = company.setup(s, company_name="X", admin_name="A", admin_email="a@x.es")
        admin = users.actor_for(s, user)
        for name in ("Uno", "Dos Tres", "Cuatro"):
            clients.create_client(s, admin, new_contact(name, ["+34 600 000 001"]))
    with sqlite_db.write() as s:
        dos = s.exec(select(Client).where(Client.name == "Dos Tres")).one()
        clients.update_client(s, admin, dos.id, name="Dos Cinco")
        clients.delete_client(s, admin, s.exec(select(Client).where(Client.name == "Uno")).one().id)
    with sqlite_db.read() as s:
        for table in ("search_name_fts", "search_text_fts"):
            every_kind = 'meta : "#c#" OR meta : "#l#" OR meta : "#d#"'
            rowids = [r[0] & search.ID_MASK for r in s.execute(text(f"SELECT rowid FROM {table} WHERE {table} MATCH :m"), {"m": every_kind})]
            assert sorted(rowids) == sorted(s.exec(select(SearchEntry.id)).all())
        assert s.execute(text("SELECT count(*) FROM search_name_fts WHERE search_name_fts MATCH '\"tres\"'")).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM search_name_fts WHERE search_name_fts MATCH '\"cinco\"'")).scalar() == 1


# --- the whole ranking against a brute-force one ----------------------------------------------------------


def _synthetic():
    path = Path(__file__).resolve().parents[1] / "bench" / "_synthetic.py"
    spec = importlib.util.spec_from_file_location("bench_synthetic", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _insert(db, tables: dict[str, list[tuple]], columns: dict[str, tuple[str, ...]]) -> None:
    """The synthetic rows, through plain INSERTs (JSON columns as Python values)."""
    from sqlmodel import SQLModel

    with db.write() as s:
        for table in ("tag", "client", "lead", "phone", "email", "client_tag", "lead_tag", "activity", "search_entry"):
            cols = columns[table]
            rows = [{c: ({} if c in ("custom", "data") else v) for c, v in zip(cols, r)} for r in tables[table]]
            if rows:
                s.execute(SQLModel.metadata.tables[table].insert(), rows)
        if db.is_postgres:
            for table in ("client", "lead", "phone", "email", "activity", "search_entry", "tag"):
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def _brute_force(entries: list[dict], query: str, visible) -> list[tuple[int, str, int]]:
    """The ranking rules, written down again from the issue, over plain Python data."""
    q = search.name_key(query)
    if not q:
        return []
    words = list(dict.fromkeys(q.split()))
    phone = search.phone_fragment(query)
    ranked = []
    for e in entries:
        if not visible(e):
            continue
        name, body, digits = e["name_key"], e["text"], e["digits"]
        if name == q:
            score = 100
        elif name.startswith(q):
            score = 80
        elif len(q) > 1 and f" {q}" in f" {name}":
            score = 60
        elif phone and phone in digits:
            score = 50
        elif len(q) > 1 and f" {q}" in body:
            score = 40
        elif len(q) > 2 and q in body:
            score = 20
        elif len(words) > 1 and any(len(w) > 1 for w in words) and all(f" {w}" in body for w in words):
            score = 10
        else:
            continue
        ranked.append(((-score, len(name), name, e["id"]), (e["kind"], e["ref_id"], score)))
    return [hit for _key, hit in sorted(ranked)]


def test_pages_match_a_brute_force_ranking(db, admin, make_user, monkeypatch):
    synthetic = _synthetic()
    intern = make_user("Intern")
    with db.read() as s:
        user_ids = [admin.id, intern.id]
        first = {t: (s.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar() or 0) + 1 for t in ("client", "lead", "phone", "email", "activity", "search_entry", "tag")}
    maker = synthetic.RowMaker(user_ids, first_ids=first)
    tables = {t: [] for t in synthetic.TABLE_COLUMNS}
    people = list(synthetic.people(260, seed=3, users=2, pool_leads=40))
    # names sharing their length and first letters (one group of the SQLite sort key), in shuffled order
    rng = random.Random(5)
    twins = [f"Mariano {a}{b}z Ruiz" for a in "qwertyuiop" for b in "asdf"]
    rng.shuffle(twins)
    stamp = people[0].created_at
    people[100:100] = [synthetic.Person(name, None, [], [], [], stamp, owner=i % 2, pool_lead=i % 5 == 4) for i, name in enumerate(twins)]
    for person in people:
        for table, rows in maker.rows(person).items():
            tables[table].extend(rows)
    _insert(db, tables, synthetic.TABLE_COLUMNS)
    if db.is_postgres:
        with db.write() as s:
            s.execute(text("ANALYZE search_entry"))  # the table's size, as autovacuum keeps it (read by the estimates)
    with db.read() as s:
        entries = [dict(r._mapping) for r in s.execute(text("SELECT id, kind, ref_id, owner_id, name_key, text, digits FROM search_entry"))]
    # tiny budgets: ordered scans run out, and the trigram fallbacks, estimates and long scans all run
    monkeypatch.setattr(search, "PG_SCAN_BUDGET", 8)
    monkeypatch.setattr(search, "PG_SAMPLE", 6)
    monkeypatch.setattr(search, "PG_SORT_ALL_MAX", 20)
    monkeypatch.setattr(search, "SQLITE_PROBE_ROWS", 8)  # probes both give up and answer
    queries = ["ma", "m", "mar", "mariano", "ruiz", "ano", "z ruiz", "gar", "ez", "maria", "jean", "de la", "gmail", "es", "34", "+34 6", "06", "a b", "smith j", "ne", "ie"]
    for _ in range(25):
        e = rng.choice(entries)
        word = rng.choice(e["text"].split())
        queries.append(word[rng.randrange(len(word)) :][:5])
        if e["digits"]:
            number = rng.choice(e["digits"].split())
            queries.append(number[3:8])
    def own_or_pool(e: dict) -> bool:
        return e["owner_id"] == intern.id or (e["owner_id"] is None and e["kind"] == "lead")

    scopes = [(admin, search.KINDS, lambda e: True), (intern, search.KINDS, own_or_pool), (admin, ("lead",), lambda e: e["kind"] == "lead")]
    for i, query in enumerate(queries):
        # PostgreSQL: the intern's entries read in one scan, or like everyone's (every other query)
        monkeypatch.setattr(search, "PG_SCAN_ALL", 10_000 if i % 2 else 8)
        monkeypatch.setattr(search, "PG_BAND_MAX_SHARE", 1.0 if i // 2 % 2 else 0.0)  # matches read by name length, or not
        monkeypatch.setattr(search, "PG_BAND_MARGIN", i // 4 % 2)  # (without a margin the length is often too short)
        for actor, kinds, visible in scopes if i % 3 == 0 else scopes[:2]:
            expected = _brute_force(entries, query, visible)
            for limit, offset in ((7, 0), (7, 7), (5, 31), (50, 0)):
                with db.read() as s:
                    page = search.search(s, actor, query, limit=limit, offset=offset, kinds=kinds)
                got = [(h.kind, h.id, h.score) for h in page.hits]
                assert got == expected[offset : offset + limit], (query, actor.name, kinds, limit, offset)
                assert page.has_more == (len(expected) > offset + limit)


def test_bench_rows_equal_what_the_services_write(db, admin):
    """bench/_synthetic.py loads a million rows without the services; they must be the same rows."""
    synthetic = _synthetic()
    people = list(synthetic.people(25, seed=9, users=1, pool_leads=5))
    with db.read() as s:
        first = {t: (s.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar() or 0) + 1 for t in ("client", "lead", "phone", "email", "activity", "search_entry", "tag")}
    maker = synthetic.RowMaker([admin.id], first_ids=first)
    expected = {t: [] for t in synthetic.TABLE_COLUMNS}
    for person in people:
        with db.write() as s:
            data = ContactInput(
                name=person.name,
                company_name=person.company,
                phones=[PhoneInput(e164, kind) for kind, e164 in person.phones],
                emails=person.emails,
                tags=person.tags,
            )
            if person.pool_lead:
                leads.create_lead(s, admin, data, to_pool=True)
            else:
                clients.create_client(s, admin, data)
        for table, rows in maker.rows(person).items():
            expected[table].extend(rows)
    skip = {"created_at", "updated_at", "custom", "data"}  # the services stamp "now"; JSON compared below
    with db.read() as s:
        for table, cols in synthetic.TABLE_COLUMNS.items():
            keep = [i for i, c in enumerate(cols) if c not in skip]
            got = sorted(_plain(r) for r in s.execute(text(f"SELECT {', '.join(cols[i] for i in keep)} FROM {table}")))
            want = sorted(_plain(tuple(r[i] for i in keep)) for r in expected[table])
            assert got == want, table
        assert all(c.custom == {} for c in s.exec(select(Client))) and all(lead.custom == {} for lead in s.exec(select(Lead)))


def _plain(row) -> tuple:
    return tuple(None if v is None else str(v) for v in row)
