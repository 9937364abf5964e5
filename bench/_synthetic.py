"""Synthetic contacts for the search benchmark, and their fast bulk load.

``people(n, seed)`` makes deterministic, realistic records: Spanish, French and English names
(accents, compound first names, two surnames, particles like "de la" and "O'Brien"), companies,
emails, E.164 phones of Spain, France and the UK, and a few tags. ``rows(...)`` turns them into the
rows that ``services.clients.create_client`` / ``services.leads.create_lead(to_pool=True)`` would
write (client or lead, phone, email, tag, client_tag / lead_tag, activity, search_entry, the last
through ``search.entry_fields``), and ``load_sqlite`` / ``load_postgres`` write them through the raw
DB-API connection (executemany in one transaction; COPY with the search indexes rebuilt after).
tests/test_search.py checks that these rows equal what the services write.
"""

from __future__ import annotations

import importlib.util
import random
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tscrm.core import search
from tscrm.core.text import fold

# --- names ------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


ES_FIRST = _words(
    "José María Juan Ana Antonio Carmen Francisco Lucía Manuel Laura David Marta Javier Elena Daniel Isabel "
    "Carlos Cristina Miguel Paula Alejandro Sara Rafael Pilar Pablo Raquel Sergio Nuria Fernando Rocío Jorge "
    "Beatriz Luis Silvia Alberto Patricia Álvaro Andrea Diego Teresa Adrián Inés Iván Sofía Rubén Irene Óscar "
    "Alba Ramón Begoña Jesús Montserrat Ignacio Ainhoa Íñigo Maite Joaquín Concepción Mercedes Dolores Agustín "
    "Gonzalo Marina Emilio Esther Vicente Yolanda Tomás Amparo Héctor Nerea Aitor Leire Xavier Núria Jordi"
)
ES_COMPOUND = ("María José", "José Luis", "Juan Carlos", "Ana Belén", "María Ángeles", "José Antonio", "María del Mar", "Juan Manuel")
ES_SURNAMES = _words(
    "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández Díaz "
    "Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos Gil Ramírez Serrano "
    "Blanco Molina Morales Suárez Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias Medina Garrido "
    "Cortés Castillo Santos Lozano Guerrero Cano Prieto Méndez Cruz Calvo Gallego Vidal León Márquez Herrera "
    "Peña Flores Cabrera Campos Vega Fuentes Carrasco Díez Caballero Reyes Nieto Aguilar Pascual Santana Herrero "
    "Lorenzo Montero Hidalgo Giménez Ibáñez Ferrer Durán Santiago Benítez Mora Vicente Vargas Arias Carmona "
    "Crespo Román Pastor Soto Sáez Velasco Moya Soler Parra Esteban Bravo Gallardo Rojas Echeverría Goikoetxea "
    "Puig Casanova Sainz Zubizarreta Ordóñez Quintana"
) + ["de la Fuente", "del Río", "de la Cruz", "San Martín"]
FR_FIRST = _words(
    "Jean Marie Pierre Michel Philippe Nathalie Isabelle Sylvie Catherine Françoise Alain Nicolas Christophe "
    "Sébastien Stéphane Julien Céline Aurélie Émilie Élodie Camille Léa Chloé Manon Inès Théo Lucas Hugo Louis "
    "Gabriel Jules Arthur Raphaël Mathéo Zoé François Hélène Gérard Benoît Jérôme Frédéric Thérèse Geneviève "
    "Aurélien Clément Noémie Maëlle Gaëlle Loïc Hervé Rémi Bérénice Agnès Solène Océane Cécile Yann Margaux"
) + ["Jean-Pierre", "Jean-François", "Marie-Claire", "Anne-Sophie", "Marie-Hélène", "Jean-Luc"]
FR_SURNAMES = _words(
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia "
    "David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre Mercier Dupont Lambert Bonnet François "
    "Legrand Garnier Faure Rousseau Blanc Guérin Muller Henry Roussel Perrin Morin Mathieu Clément Gauthier "
    "Dumont Fontaine Chevalier Robin Masson Nguyen Boyer Denis Lemaire Duval Joly Gautier Roger Roche Noël Meyer "
    "Meunier Marchand Dufour Blanchard Barbier Brun Dumas Brunet Schmitt Leroux Colin Renard Arnaud Rolland Caron "
    "Aubert Giraud Leclerc Bourgeois Renaud Lemoine Picard Gaillard Lacroix Fabre Dupuis Olivier Hubert Guillot "
    "Rivière Moulin Berger Lecomte Ménard Fleury Deschamps Carpentier Maillard Aubry Vasseur Renault Jacquet "
    "Prévost Poirier Charpentier Royer Huet Baron Dupuy Pons Carré Breton Rémy Schneider Perrot Guyot Marty"
) + ["Le Gall", "Da Silva", "Le Roux", "Saint-Pierre", "D'Arcy", "de Villiers"]
EN_FIRST = _words(
    "James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia Jennifer Linda "
    "Elizabeth Barbara Susan Jessica Sarah Karen Oliver George Harry Jack Jacob Noah Charlie Muhammad Oscar "
    "Olivia Amelia Isla Ava Emily Sophie Grace Lily Chloe Evie Daniel Matthew Andrew Mark Paul Steven Emma "
    "Hannah Rebecca Rachel Claire Siobhan Niamh Aoife Callum Rhys Dylan Gareth Eleanor Alice Freddie Imogen"
)
EN_SURNAMES = _words(
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
    "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
    "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price "
    "Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox "
    "Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers "
    "Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell"
) + ["O'Brien", "O'Connor", "MacDonald", "McKenzie", "Fitzgerald", "Ashworth-Jones"]

ES_SECTORS = ("Construcciones", "Talleres", "Distribuciones", "Inmobiliaria", "Clínica Dental", "Asesoría", "Transportes", "Reformas", "Hostelería", "Informática", "Seguros", "Farmacia")
ES_PLACES = ("Levante", "del Sur", "Costa Brava", "Madrid", "Sevilla", "Valencia", "Bilbao", "Galicia", "Mediterráneo", "Castilla", "Aragón", "Canarias")
ES_FORMS = ("S.L.", "S.A.", "S.L.U.", "y Asociados S.L.", "Hermanos S.L.", "S. Coop.")
FR_SECTORS = ("Boulangerie", "Cabinet", "Garage", "Pharmacie", "Transports", "Bâtiment", "Immobilier", "Conseil", "Menuiserie", "Électricité")
FR_PLACES = ("Paris", "Lyon", "Marseille", "Bordeaux", "Lille", "Nantes", "Toulouse", "Provence", "Bretagne", "Normandie", "Alsace")
FR_FORMS = ("SARL", "SAS", "SA", "& Fils", "EURL", "et Associés")
EN_SECTORS = ("Consulting", "Builders", "Logistics", "Property", "Dental Care", "Accountants", "Plumbing", "Solutions", "Catering", "Motors", "Estates", "Digital")
EN_PLACES = ("London", "Manchester", "Leeds", "Bristol", "Glasgow", "Cardiff", "Yorkshire", "Kent", "Thames Valley", "Midlands")
EN_FORMS = ("Ltd", "Limited", "& Sons Ltd", "LLP", "plc", "Group Ltd")
FREE_MAIL = {
    "es": ("gmail.com", "hotmail.com", "yahoo.es", "outlook.es", "telefonica.net", "icloud.com"),
    "fr": ("gmail.com", "orange.fr", "free.fr", "wanadoo.fr", "laposte.net", "hotmail.fr", "sfr.fr"),
    "en": ("gmail.com", "btinternet.com", "yahoo.co.uk", "outlook.com", "hotmail.co.uk", "icloud.com"),
}
COMPANY_TLD = {"es": ".es", "fr": ".fr", "en": ".co.uk"}
TAGS = (
    "VIP", "Newsletter", "Hot", "Cold", "Partner", "Reseller", "B2B", "B2C", "Fibra", "Móvil", "Empresa",
    "Autónomo", "Paris", "Madrid", "London", "Renewal 2025", "Churn risk", "Black Friday", "Referral", "Premium",
)


@dataclass
class Person:
    """One synthetic contact, as typed into the CRM."""

    name: str
    company: str | None
    emails: list[str]
    phones: list[tuple[str, str]]  # (kind, e164)
    tags: list[str]
    created_at: datetime
    owner: int = 0  # index into the users list
    pool_lead: bool = False
    extra: dict = field(default_factory=dict)


def _ascii(value: str) -> str:
    return "".join(ch for ch in fold(value) if ch.isalnum())


def _person_name(rng: random.Random, locale: str) -> tuple[str, str, str]:
    """(full name, first name, surname) in the locale's usual shape."""
    if locale == "es":
        first = rng.choice(ES_COMPOUND) if rng.random() < 0.12 else rng.choice(ES_FIRST)
        last = rng.choice(ES_SURNAMES)
        full = f"{first} {last}" + (f" {rng.choice(ES_SURNAMES)}" if rng.random() < 0.8 else "")
    elif locale == "fr":
        first, last = rng.choice(FR_FIRST), rng.choice(FR_SURNAMES)
        full = f"{first} {last}"
    else:
        first, last = rng.choice(EN_FIRST), rng.choice(EN_SURNAMES)
        middle = f" {rng.choice('ABCDEFGHJKLMNPRSTW')}." if rng.random() < 0.12 else ""
        full = f"{first}{middle} {last}"
    shape = rng.random()
    if shape < 0.04:
        full = full.upper()  # typed with caps lock, as imports often are
    elif shape < 0.06:
        full = f"{last.upper()}, {first}"
    return full, first, last


def _company(rng: random.Random, locale: str, last: str) -> str:
    sectors, places, forms = {
        "es": (ES_SECTORS, ES_PLACES, ES_FORMS),
        "fr": (FR_SECTORS, FR_PLACES, FR_FORMS),
        "en": (EN_SECTORS, EN_PLACES, EN_FORMS),
    }[locale]
    shape = rng.random()
    if shape < 0.4:
        return f"{last} {rng.choice(forms)}"
    if shape < 0.8:
        return f"{rng.choice(sectors)} {rng.choice(places)} {rng.choice(forms)}"
    return f"{rng.choice(sectors)} {last}"


def _email(rng: random.Random, locale: str, first: str, last: str, company: str | None) -> str:
    f, l = _ascii(first), _ascii(last)
    local = rng.choice((f"{f}.{l}", f"{f}{l}", f"{f[:1]}{l}", f"{f}_{l}", f"{f}.{l}{rng.randint(1, 99)}", f"{f}{rng.randint(60, 2005)}"))
    if company and rng.random() < 0.5:
        domain = _ascii(company.split()[0])[:20] + COMPANY_TLD[locale]
    else:
        domain = rng.choice(FREE_MAIL[locale])
    return f"{local}@{domain}"


def _phone(rng: random.Random, locale: str) -> tuple[str, str]:
    """A valid E.164 number of the locale's country: (kind, e164)."""
    digits = lambda k: "".join(rng.choice("0123456789") for _ in range(k))
    mobile = rng.random() < 0.7
    if locale == "es":
        return ("mobile", f"+34{rng.choice('67')}{digits(8)}") if mobile else ("work", f"+349{rng.choice('1356')}{digits(7)}")
    if locale == "fr":
        return ("mobile", f"+336{digits(8)}") if mobile else ("work", f"+33{rng.choice('12345')}{digits(8)}")
    return ("mobile", f"+4477{rng.choice('1234567')}{digits(7)}") if mobile else ("work", f"+4420{rng.choice('378')}{digits(7)}")


def people(n: int, seed: int = 7, *, users: int = 50, pool_leads: int = 0) -> Iterator[Person]:
    """``n`` clients spread over ``users`` owners, then ``pool_leads`` ownerless leads."""
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    span = 3 * 365 * 24 * 3600
    for i in range(n + pool_leads):
        locale = rng.choices(("es", "fr", "en"), weights=(45, 30, 25))[0]
        full, first, last = _person_name(rng, locale)
        company = _company(rng, locale, last) if rng.random() < 0.55 else None
        emails = [_email(rng, locale, first, last, company) for _ in range(rng.choices((0, 1, 2), weights=(15, 72, 13))[0])]
        phones: list[tuple[str, str]] = []
        for _ in range(rng.choices((0, 1, 2), weights=(3, 85, 12))[0]):
            phone = _phone(rng, locale if rng.random() < 0.9 else rng.choice(("es", "fr", "en")))
            if phone[1] not in (p[1] for p in phones):
                phones.append(phone)
        tags = rng.sample(TAGS, rng.choice((1, 1, 2, 3))) if rng.random() < 0.3 else []
        created = start + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(1_000_000))
        yield Person(full, company, list(dict.fromkeys(e.lower() for e in emails)), phones, tags, created, owner=i % users, pool_lead=i >= n)


# --- rows as the services write them ------------------------------------------------------------

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "tag": ("id", "name", "key"),
    "client": ("id", "name", "company_name", "position", "address", "owner_id", "source_id", "created_by_id", "custom", "external_ref", "created_at", "updated_at"),
    "lead": (
        "id", "name", "company_name", "position", "address", "status", "owner_id", "source_id", "created_by_id",
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "custom", "client_id", "external_ref",
        "created_at", "updated_at", "claimed_at", "closed_at",
    ),
    "phone": ("id", "client_id", "lead_id", "kind", "e164", "rdigits", "position"),
    "email": ("id", "client_id", "lead_id", "address", "position"),
    "client_tag": ("client_id", "tag_id"),
    "lead_tag": ("lead_id", "tag_id"),
    "activity": ("id", "kind", "client_id", "lead_id", "deal_id", "author_id", "text", "data", "created_at"),
    "search_entry": ("id", "kind", "ref_id", "owner_id", "name", "name_key", "text", "digits"),
}
LOAD_ORDER = ("tag", "client", "lead", "phone", "email", "client_tag", "lead_tag", "activity", "search_entry")


class RowMaker:
    """Turns ``Person`` records into table rows with ids assigned as the services would assign them."""

    def __init__(self, user_ids: Sequence[int], *, first_ids: dict[str, int] | None = None) -> None:
        self.user_ids = list(user_ids)
        self.next_id = {t: 1 for t in TABLE_COLUMNS} | (first_ids or {})
        self.tag_ids: dict[str, int] = {}

    def _id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def rows(self, person: Person) -> dict[str, list[tuple]]:
        out: dict[str, list[tuple]] = {t: [] for t in TABLE_COLUMNS}
        owner = self.user_ids[person.owner % len(self.user_ids)]
        name = person.name.strip()  # contacts.validate_name
        company = (person.company or "").strip() or None
        at = person.created_at
        if person.pool_lead:
            kind, ref = "lead", self._id("lead")
            out["lead"].append(
                (ref, name, company, None, None, "unprocessed", None, None, owner, None, None, None, None, None, "{}", None, None, at, at, None, None)
            )
        else:
            kind, ref = "client", self._id("client")
            out["client"].append((ref, name, company, None, None, owner, None, owner, "{}", None, at, at))
        for position, (phone_kind, e164) in enumerate(person.phones):
            out["phone"].append(
                (self._id("phone"), ref if kind == "client" else None, ref if kind == "lead" else None, phone_kind, e164, e164[1:][::-1], position)
            )
        for position, address in enumerate(person.emails):
            out["email"].append((self._id("email"), ref if kind == "client" else None, ref if kind == "lead" else None, address, position))
        for tag in person.tags:
            key = fold(tag)
            if key not in self.tag_ids:
                self.tag_ids[key] = self._id("tag")
                out["tag"].append((self.tag_ids[key], tag, key))
            out[f"{kind}_tag"].append((ref, self.tag_ids[key]))
        text = "Lead added to the pool" if kind == "lead" else "Client created"
        out["activity"].append(
            (self._id("activity"), "created", ref if kind == "client" else None, ref if kind == "lead" else None, None, owner, text, "{}", at)
        )
        fields = search.entry_fields(name, company, person.emails, sorted(person.tags), [e for _k, e in person.phones])
        out["search_entry"].append(
            (self._id("search_entry"), kind, ref, None if kind == "lead" else owner, fields.name, fields.name_key, fields.text, fields.digits)
        )
        return out


# --- loading ------------------------------------------------------------------------------------

Progress = Callable[[int], None]


def _batches(persons: Iterator[Person], maker: RowMaker, size: int) -> Iterator[tuple[int, dict[str, list[tuple]]]]:
    batch: dict[str, list[tuple]] = {t: [] for t in TABLE_COLUMNS}
    count = 0
    for person in persons:
        for table, rows in maker.rows(person).items():
            batch[table].extend(rows)
        count += 1
        if count == size:
            yield count, batch
            batch, count = {t: [] for t in TABLE_COLUMNS}, 0
    if count:
        yield count, batch


def _sqlite_time(value: datetime | None) -> str | None:
    # what SQLAlchemy's SQLite DateTime stores for tscrm.core.types.UTCDateTime
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: Path, persons: Iterator[Person], maker: RowMaker, progress: Progress, batch: int = 20_000) -> None:
    """executemany on the raw sqlite3 connection, one transaction; the FTS triggers index as they go."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute("PRAGMA foreign_keys=OFF")  # ids are consistent by construction; checked by the tests
    conn.execute("BEGIN")
    for count, tables in _batches(persons, maker, batch):
        for table in LOAD_ORDER:
            rows = tables[table]
            if not rows:
                continue
            cols = TABLE_COLUMNS[table]
            timed = [i for i, c in enumerate(cols) if c.endswith("_at")]
            if timed:
                rows = [tuple(_sqlite_time(v) if i in timed else v for i, v in enumerate(r)) for r in rows]
            conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        progress(count)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    for table in ("search_name_fts", "search_text_fts"):
        conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def migration_0002():
    """The search-index migration module (its file name starts with a digit, so no plain import)."""
    path = Path(search.__file__).parent / "migrations" / "versions" / "0002_search_indexes.py"
    spec = importlib.util.spec_from_file_location("tscrm_migration_0002", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _copy_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def load_postgres(url: str, persons: Iterator[Person], maker: RowMaker, progress: Progress, batch: int = 20_000) -> None:
    """COPY into the tables with the search indexes dropped, then rebuild them (as migration 0002 defines them)."""
    import psycopg

    indexes = migration_0002().POSTGRES_INDEXES
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for name, _definition in indexes:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        with conn.transaction():
            for count, tables in _batches(persons, maker, batch):
                for table in LOAD_ORDER:
                    rows = tables[table]
                    if not rows:
                        continue
                    with conn.cursor().copy(f"COPY {table} ({', '.join(TABLE_COLUMNS[table])}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row([_copy_value(v) for v in row])
                progress(count)
        for table, next_id in maker.next_id.items():
            if "id" in TABLE_COLUMNS[table]:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {max(next_id - 1, 1)})")
        for name, definition in indexes:
            conn.execute(f"CREATE INDEX {name} {definition}")
        conn.execute("VACUUM ANALYZE")

