"""The demo database: "Costa Azul Telecom", a Madrid call centre selling telecom to businesses.

Its desks serve Spain, France and the UK, so names, companies, addresses, phone numbers, deal titles,
notes and call transcripts come in Spanish, French and English. Everything is created through the
services, so every rule holds (search index, feed, rights); the services stamp records "now", so the
demo dates them in the past afterwards (record and feed entry alike) to look like 18 months of work.

The result depends only on ``seed``, ``size`` and ``now``: the same three give the same database.
People (names, companies, phone numbers, emails) come from their own random stream and depend on
``seed`` and ``size`` only; the other stages each draw from a stream of their own too.

Speed: a few hundred records per transaction. Nearly all the time is spent inside the services
(about 2.5 ms of CPU per client, 1 ms per call); ``size`` 2000 takes about 11 s on SQLite.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import event, func
from sqlmodel import Session, col, select

from tscrm.core.db import Database
from tscrm.core.errors import Conflict, ValidationError
from tscrm.core.models import (
    DEAL_PIPELINE,
    Activity,
    Call,
    CallDirection,
    CallOutcome,
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
from tscrm.core.permissions import Actor
from tscrm.core.services import calls, clients, company, deals, leads, notes, tasks, users
from tscrm.core.services.contacts import ContactInput, PhoneInput
from tscrm.core.text import fold
from tscrm.core.timeutil import local_midnight
from tscrm.core.types import utcnow
from tscrm.i18n import _

ProgressFn = Callable[[str, int, int], None]
T = TypeVar("T")

COMPANY_NAME = "Costa Azul Telecom"
ADMIN_EMAIL = "admin@demo.tscrm"
DEMO_PASSWORD = "demo"  # every demo user signs in with it
EMAIL_DOMAIN = "demo.tscrm"
COMPANY_TZ = ZoneInfo("Europe/Madrid")
EXTRA_RATES = {"USD": Decimal("0.92"), "GBP": Decimal("1.17")}
BATCH = 250  # records per transaction: big enough to be quick, small enough to show progress
MAX_SIZE = 1_000_000


@dataclass
class DemoSummary:
    """What ``generate`` made, counted in the database afterwards."""

    users: int = 0
    clients: int = 0
    leads_pool: int = 0  # unprocessed leads nobody owns
    leads_owned: int = 0  # leads an agent owns: in progress, finished or bad quality
    deals: int = 0
    tasks: int = 0
    calls: int = 0
    activities: int = 0  # feed entries
    admin_email: str = ADMIN_EMAIL


# --- the material: three desks, their names, places and words ---------------------------------


@dataclass(frozen=True)
class _City:
    name: str
    postcode: str
    landline: str  # the national prefix after the country code, e.g. "91" for Madrid


@dataclass(frozen=True)
class _Desk:
    """Everything that differs between the Spanish, French and British customers."""

    region: str
    language: str
    country_code: str
    national_digits: int
    mobile_prefixes: tuple[str, ...]
    currency: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    two_surnames: bool
    company_patterns: tuple[str, ...]
    positions: tuple[str, ...]
    cities: tuple[_City, ...]
    streets: tuple[str, ...]
    address_pattern: str
    mail_domains: tuple[str, ...]
    web_tld: str
    tags: tuple[str, ...]
    deal_titles: tuple[str, ...]
    notes: tuple[str, ...]
    transcripts: tuple[str, ...]
    task_titles: dict[TaskType, tuple[str, ...]]
    sms_texts: tuple[str, ...]
    bad_reasons: tuple[str, ...]
    utm_campaigns: tuple[str, ...]
    utm_terms: tuple[str, ...]


_ES = _Desk(
    region="ES",
    language="es",
    country_code="34",
    national_digits=9,
    mobile_prefixes=("6", "6", "6", "7"),
    currency="EUR",
    first_names=(
        "José", "María", "Begoña", "Iñaki", "Lucía", "Álvaro", "Ainhoa", "Jesús", "Inés", "Raúl", "Sofía",
        "Óscar", "Nerea", "Andrés", "Pilar", "Rocío", "Joaquín", "Maite", "Adrián", "Elena", "Carmen",
        "Francisco", "Marta", "Sergio", "Alba", "Íñigo", "Montserrat", "Jordi", "Núria", "Xabier", "Ángela",
        "Rubén", "Mercedes", "Tomás", "Leire", "Gonzalo", "Amparo", "Ramón", "Yolanda", "Víctor",
    ),
    last_names=(
        "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
        "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso",
        "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano",
        "Blanco", "Molina", "Etxeberria", "Ibáñez", "Castaño", "Peña", "Núñez", "Ortiz", "Vidal", "Puig",
        "Garmendia", "Santamaría",
    ),
    two_surnames=True,
    company_patterns=(
        "Construcciones {last} S.L.", "Talleres {last} S.L.", "Transportes {last} e Hijos S.L.",
        "Clínica Dental {last}", "Asesoría {last} y Asociados S.L.", "Inmobiliaria {city} S.L.",
        "Distribuciones {city} S.A.", "Bodegas {last} S.L.", "Farmacia {last}", "Autoescuela {city}",
        "Frutas {last} S.L.", "Reformas {last} S.L.", "Hotel {city} Centro S.L.", "Gestoría {last}",
    ),
    positions=(
        "Gerente", "Director comercial", "Directora financiera", "Responsable de compras", "Administrativa",
        "Jefe de operaciones", "Propietario", "Responsable de IT", "Socia fundadora",
    ),
    cities=(
        _City("Madrid", "28013", "91"), _City("Barcelona", "08007", "93"), _City("Valencia", "46002", "96"),
        _City("Sevilla", "41001", "95"), _City("Bilbao", "48001", "94"), _City("Zaragoza", "50001", "976"),
        _City("Málaga", "29005", "952"), _City("Alicante", "03001", "965"), _City("Córdoba", "14003", "957"),
        _City("Valladolid", "47001", "983"), _City("Pamplona", "31001", "948"), _City("A Coruña", "15003", "981"),
    ),
    streets=(
        "Calle Mayor", "Avenida de la Constitución", "Calle Real", "Paseo de Gracia", "Calle del Carmen",
        "Gran Vía", "Calle San Vicente", "Plaza de España", "Calle de Alcalá", "Avenida de Andalucía",
    ),
    address_pattern="{street}, {number}, {postcode} {city}",
    mail_domains=("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"),
    web_tld="es",
    tags=("mayorista", "renovación", "fibra"),
    deal_titles=(
        "Fibra 600Mb – {n} líneas", "Centralita virtual – {n} extensiones", "Fibra 1Gb + centralita",
        "Tarifa móvil empresa – {n} líneas", "Renovación contrato fibra", "Línea 900 gratuita",
        "Portabilidad {n} móviles", "Router 5G + SIM de datos", "Centralita virtual",
    ),
    notes=(
        "Interesado en fibra 1Gb para la nueva oficina. Volver a llamar el jueves.",
        "Pide descuento por {n} líneas; consultarlo con Carlos.",
        "Tiene permanencia con Movistar hasta marzo.",
        "Prefiere que le llamen por la tarde, a partir de las 16:00.",
        "Enviado presupuesto por email. Espera aprobación del socio.",
        "No contesta al fijo, probar en el móvil.",
        "Quiere portar {n} números móviles sin cortes de servicio.",
        "Muy contento con la centralita, posible ampliación en septiembre.",
    ),
    transcripts=(
        "Agente: Costa Azul Telecom, le atiende {agent}. ¿En qué puedo ayudarle?\n"
        "Cliente: Llamo por la oferta de fibra para la oficina.\n"
        "Agente: Perfecto, le envío el presupuesto hoy mismo.",
        "Agente: Buenos días, {client}, le llamo de Costa Azul Telecom por su contrato.\n"
        "Cliente: Sí, queríamos añadir dos líneas móviles más.\n"
        "Agente: Sin problema, se lo preparo y se lo mando por email.",
        "Cliente: Hola, tenemos cortes en la centralita desde ayer.\n"
        "Agente: Lo siento mucho, abro una incidencia y le llama un técnico esta tarde.",
    ),
    task_titles={
        TaskType.TASK: ("Enviar presupuesto a {company}", "Preparar contrato de {name}", "Revisar permanencia de {name}"),
        TaskType.CALL: ("Llamar a {name} – seguimiento presupuesto", "Llamar a {name} por la renovación"),
        TaskType.VIDEO: ("Videollamada: demo centralita con {name}", "Videollamada con {company}"),
        TaskType.SMS: ("SMS recordatorio de cita a {name}",),
    },
    sms_texts=(
        "Hola {first}, le recordamos su cita con Costa Azul Telecom mañana a las 10:00.",
        "Hola {first}, ya tiene el presupuesto en su correo. Cualquier duda, llámenos.",
    ),
    bad_reasons=("Número equivocado", "No es una empresa", "Duplicado", "No le interesa"),
    utm_campaigns=("fibra-empresas", "centralita-virtual", "moviles-pyme"),
    utm_terms=("fibra optica empresas", "centralita virtual", "tarifa movil empresa"),
)

_FR = _Desk(
    region="FR",
    language="fr",
    country_code="33",
    national_digits=9,
    mobile_prefixes=("6", "6", "7"),
    currency="EUR",
    first_names=(
        "Anaïs", "Éloïse", "Léa", "Chloé", "Zoé", "Hélène", "Amélie", "Camille", "Manon", "Inès", "Maëlle",
        "Noémie", "Thomas", "Théo", "Mathéo", "Jérôme", "François", "Raphaël", "Loïc", "Benoît", "Gaël",
        "Hugo", "Étienne", "Clément", "Aurélien", "Céline", "Sébastien", "Océane", "Margaux", "Joël",
    ),
    last_names=(
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
        "Simon", "Laurent", "Lefèvre", "Michel", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
        "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "Chevalier", "Gauthier", "Rousseau",
        "Lemaître",
    ),
    two_surnames=False,
    company_patterns=(
        "Boulangerie {last} SARL", "Transports {last} SARL", "Cabinet {last} & Associés", "Garage {last} SARL",
        "Agence Immobilière de {city}", "Pharmacie {last}", "Menuiserie {last} SARL", "Hôtel {last}",
        "Traiteur {last} SAS", "Plomberie {last} EURL", "Optique {last}", "Imprimerie de {city} SAS",
    ),
    positions=(
        "Gérant", "Directrice commerciale", "Responsable achats", "Assistante de direction", "DAF",
        "Responsable informatique", "Président", "Chef d'agence",
    ),
    cities=(
        _City("Paris", "75011", "1"), _City("Lyon", "69002", "4"), _City("Marseille", "13001", "4"),
        _City("Toulouse", "31000", "5"), _City("Bordeaux", "33000", "5"), _City("Lille", "59000", "3"),
        _City("Nantes", "44000", "2"), _City("Nice", "06000", "4"), _City("Strasbourg", "67000", "3"),
    ),
    streets=(
        "rue de la République", "avenue Jean Jaurès", "boulevard Victor Hugo", "rue du Général Leclerc",
        "place de la Mairie", "rue Pasteur", "rue Nationale", "quai des Chartrons",
    ),
    address_pattern="{number} {street}, {postcode} {city}",
    mail_domains=("gmail.com", "orange.fr", "free.fr", "laposte.net", "wanadoo.fr"),
    web_tld="fr",
    tags=("partenaire", "revendeur", "fibre"),
    deal_titles=(
        "Abonnement mobile pro – {n} lignes", "Standard téléphonique cloud", "Fibre pro 1 Gb/s",
        "Numéro vert 0800", "Renouvellement forfait entreprise", "Box 4G de secours",
        "Standard cloud – {n} postes",
    ),
    notes=(
        "Intéressé par la fibre pro, rappeler mardi.",
        "Engagement chez Orange jusqu'en juin.",
        "Devis envoyé par e-mail, attend la validation de la direction.",
        "Préfère être contacté le matin avant 11 h.",
        "Demande une remise pour {n} lignes.",
        "Standard saturé le lundi, envisage le standard cloud.",
        "Portabilité de {n} numéros à prévoir.",
        "Très satisfaite de l'installation, nous recommande à un confrère.",
    ),
    transcripts=(
        "Agent : Costa Azul Telecom, {agent} à l'appareil, bonjour.\n"
        "Client : Je vous appelle au sujet du devis pour les lignes mobiles.\n"
        "Agent : Très bien, je vous le renvoie cet après-midi.",
        "Agent : Bonjour {client}, je vous rappelle pour le standard cloud.\n"
        "Client : Oui, on voudrait une démonstration la semaine prochaine.\n"
        "Agent : Je vous propose jeudi à 10 h en visio.",
        "Client : Bonjour, notre fibre est coupée depuis ce matin.\n"
        "Agent : Je suis désolé, j'ouvre un ticket et un technicien vous rappelle.",
    ),
    task_titles={
        TaskType.TASK: ("Envoyer le devis à {company}", "Préparer le contrat de {name}", "Vérifier l'engagement de {name}"),
        TaskType.CALL: ("Rappeler {name} pour le devis", "Appeler {name} : renouvellement"),
        TaskType.VIDEO: ("Visio : présentation du standard cloud à {name}", "Visio avec {company}"),
        TaskType.SMS: ("SMS de rappel de rendez-vous à {name}",),
    },
    sms_texts=(
        "Bonjour {first}, nous vous rappelons votre rendez-vous demain à 10 h avec Costa Azul Telecom.",
        "Bonjour {first}, votre devis est dans votre boîte mail. N'hésitez pas à nous appeler.",
    ),
    bad_reasons=("Faux numéro", "Particulier, pas une entreprise", "Doublon", "Spam"),
    utm_campaigns=("offre-mobile-pro", "standard-cloud", "fibre-pro"),
    utm_terms=("forfait mobile entreprise", "standard telephonique cloud", "fibre pro"),
)

_GB = _Desk(
    region="GB",
    language="en",
    country_code="44",
    national_digits=10,
    mobile_prefixes=("7",),
    currency="GBP",
    first_names=(
        "Siobhan", "Oliver", "Amelia", "Harry", "Isla", "George", "Niamh", "Jack", "Freya", "Callum", "Aoife",
        "William", "Emily", "James", "Sophie", "Rhys", "Eilidh", "Thomas", "Charlotte", "Oscar", "Grace",
        "Declan", "Ruth", "Alfie", "Priya", "Imran",
    ),
    last_names=(
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
        "Roberts", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards", "Green",
        "O'Brien", "Murphy", "MacLeod", "Campbell", "Kelly", "Patel", "Khan",
    ),
    two_surnames=False,
    company_patterns=(
        "{last} & Sons Ltd", "{last} Logistics Ltd", "{city} Dental Care Ltd", "{last} Property Services Ltd",
        "{last} Plumbing & Heating Ltd", "{city} Print Ltd", "{last} Accountancy LLP", "{last} Motors Ltd",
        "{city} Veterinary Practice Ltd",
    ),
    positions=(
        "Managing Director", "Office Manager", "Operations Director", "Procurement Lead", "Finance Director",
        "IT Manager", "Owner", "Practice Manager",
    ),
    cities=(
        _City("London", "EC1V", "20"), _City("Manchester", "M1", "161"), _City("Birmingham", "B2", "121"),
        _City("Leeds", "LS1", "113"), _City("Glasgow", "G1", "141"), _City("Bristol", "BS1", "117"),
        _City("Edinburgh", "EH1", "131"), _City("Liverpool", "L1", "151"),
    ),
    streets=("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "King Street"),
    address_pattern="{number} {street}, {city} {postcode}",
    mail_domains=("gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk"),
    web_tld="co.uk",
    tags=("reseller", "sip"),
    deal_titles=(
        "Business broadband 900Mb", "Hosted PBX – {n} seats", "Mobile fleet – {n} SIMs", "SIP trunk upgrade",
        "0800 freephone number", "Contract renewal – {n} lines",
    ),
    notes=(
        "Interested in the 900Mb broadband for the new office. Call back Thursday.",
        "Contract with BT ends in April.",
        "Quote sent by email, waiting for the finance director.",
        "Prefers calls in the afternoon.",
        "Asked for a discount on {n} SIMs.",
        "Wants to port {n} mobile numbers.",
        "Happy with the hosted PBX, may add seats after the summer.",
        "Voicemail full, try the mobile.",
    ),
    transcripts=(
        "Agent: Costa Azul Telecom, {agent} speaking.\n"
        "Customer: Hi, it's about the quote for the hosted PBX.\n"
        "Agent: Of course, I'll email the updated figures today.",
        "Agent: Hello {client}, I'm calling about your contract renewal.\n"
        "Customer: Yes, we'd like to add three more SIMs.\n"
        "Agent: No problem, I'll send the new terms this afternoon.",
        "Customer: Hi, our broadband has been down since this morning.\n"
        "Agent: Sorry about that, I've opened a ticket and an engineer will call you back.",
    ),
    task_titles={
        TaskType.TASK: ("Send the quote to {company}", "Prepare {name}'s contract", "Check {name}'s contract end date"),
        TaskType.CALL: ("Call {name} back about the quote", "Call {name} about the renewal"),
        TaskType.VIDEO: ("Video call: hosted PBX demo with {name}", "Video call with {company}"),
        TaskType.SMS: ("Appointment reminder SMS to {name}",),
    },
    sms_texts=(
        "Hi {first}, a reminder of your call with Costa Azul Telecom tomorrow at 10am.",
        "Hi {first}, your quote is in your inbox. Any questions, just call us.",
    ),
    bad_reasons=("Wrong number", "Residential, not a business", "Duplicate", "Not interested"),
    utm_campaigns=("uk-hosted-pbx", "uk-business-broadband"),
    utm_terms=("hosted pbx uk", "business broadband"),
)

_DESKS = (_ES, _FR, _GB)
_DESK_WEIGHTS = (60, 25, 15)
_COMMON_TAGS = (("newsletter", 0.3), ("prospect", 0.15))
_BUSINESS_TAGS = (("b2b", 0.55), ("vip", 0.1))
_SOURCES = ("Web", "Google Ads", "Feria Madrid", "Salon Paris", "Referral", "Cold call")
_UTM_SOURCES = (("google", "cpc"), ("facebook", "social"), ("linkedin", "social"), ("newsletter", "email"))
_OUR_NUMBERS = {"ES": "+34910600100", "FR": "+33184880000", "GB": "+442039660000"}
_LEGAL_WORDS = {"s.l.", "s.a.", "sarl", "sas", "eurl", "ltd", "llp", "&", "e", "y", "de", "hijos", "associes", "sons"}


@dataclass(frozen=True)
class _Member:
    name: str
    email: str
    group: str
    timezone: str
    language: str
    desk: str | None  # the customers they mostly call ("ES", "FR", "GB"); None: a bit of everything


_TEAM: tuple[_Member, ...] = (
    _Member("Marta Vidal", ADMIN_EMAIL, "Admin", "Europe/Madrid", "en", None),
    _Member("Carlos Ruiz Ortega", "carlos.ruiz@demo.tscrm", "Manager", "Europe/Madrid", "es", "ES"),
    _Member("Claire Dubois", "claire.dubois@demo.tscrm", "Manager", "Europe/Paris", "fr", "FR"),
    _Member("Lucía Fernández", "lucia.fernandez@demo.tscrm", "Intern", "Europe/Madrid", "es", "ES"),
    _Member("Javier Moreno", "javier.moreno@demo.tscrm", "Intern", "Europe/Madrid", "es", "ES"),
    _Member("Begoña Etxeberria", "begona.etxeberria@demo.tscrm", "Intern", "Europe/Madrid", "es", "ES"),
    _Member("Nuria Sánchez", "nuria.sanchez@demo.tscrm", "Intern", "Europe/Madrid", "es", "ES"),
    _Member("Théo Lefèvre", "theo.lefevre@demo.tscrm", "Intern", "Europe/Paris", "fr", "FR"),
    _Member("Anaïs Girard", "anais.girard@demo.tscrm", "Intern", "Europe/Paris", "fr", "FR"),
    _Member("Oliver Bennett", "oliver.bennett@demo.tscrm", "Intern", "Europe/London", "en", "GB"),
    _Member("Siobhan Murphy", "siobhan.murphy@demo.tscrm", "Intern", "Europe/London", "en", "GB"),
)


# --- small helpers ----------------------------------------------------------------------------


def _rng(seed: int, stage: str) -> random.Random:
    """One stream per stage: adding records to one stage leaves the others unchanged."""
    return random.Random(f"tscrm-demo:{seed}:{stage}")


def _batches(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", fold(text))


def _cover(rng: random.Random, choices: Sequence[T], weights: Sequence[float], count: int) -> list[T]:
    """``count`` weighted picks that contain every choice at least once (when count allows)."""
    picks = list(choices[:count]) + rng.choices(list(choices), weights=list(weights), k=max(0, count - len(choices)))
    rng.shuffle(picks)
    return picks


class _Clock:
    """Plausible moments in office hours (company time zone), never after ``now``."""

    OPENS = time(9)
    CLOSES = time(19)

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.today = now.astimezone(COMPANY_TZ).date()
        self.start_of_today = local_midnight(self.today, COMPANY_TZ)
        self.monday = self.today - timedelta(days=self.today.weekday())

    def on_day(self, rng: random.Random, day: date, *, weekdays: bool = True) -> datetime:
        """A moment of the office day ``day``; squeezed into the part of today already gone if needed."""
        if weekdays and day != self.today and day.weekday() >= 5 and rng.random() < 0.9:
            day -= timedelta(days=day.weekday() - 4)  # most office work happens Monday to Friday
        opens = datetime.combine(day, self.OPENS, COMPANY_TZ)
        moment = (opens + timedelta(seconds=rng.randrange(10 * 3600))).astimezone(UTC)
        if moment > self.now:
            gone = int((self.now - self.start_of_today).total_seconds())
            moment = self.start_of_today + timedelta(seconds=int(gone * rng.random()))
        return moment

    def days_ago(self, rng: random.Random, days: int) -> datetime:
        return self.on_day(rng, self.today - timedelta(days=days))

    def recent(self, rng: random.Random, max_days: int) -> datetime:
        """A day in the last ``max_days``; the business grows, so the nearer today the likelier."""
        return self.days_ago(rng, int(max_days * (1 - math.sqrt(rng.random()))))

    def this_week(self, rng: random.Random) -> datetime:
        """Earlier this week (Monday to today)."""
        return self.on_day(rng, self.monday + timedelta(days=rng.randint(0, self.today.weekday())), weekdays=False)

    def after(self, rng: random.Random, start: datetime, max_days: float) -> datetime:
        """Office hours after ``start``, at most ``max_days`` later, not in the future; soon after is likelier."""
        limit = min(self.now, start + timedelta(days=max_days))
        if limit <= start:
            return start
        day = (start + (limit - start) * rng.random() ** 1.5).astimezone(COMPANY_TZ).date()
        moment = self.on_day(rng, day, weekdays=False)
        if start < moment <= limit:
            return moment
        return start + min(limit - start, timedelta(minutes=rng.randint(2, 120)))  # later the same day

    def future(self, rng: random.Random, max_days: int) -> datetime:
        day = self.today + timedelta(days=rng.randint(1, max_days))
        if day.weekday() >= 5:
            day += timedelta(days=7 - day.weekday())  # meetings are booked on working days
        local = datetime.combine(day, self.OPENS, COMPANY_TZ) + timedelta(minutes=30 * rng.randrange(20))
        return local.astimezone(UTC)

    def later_today(self, rng: random.Random) -> datetime:
        """A quarter hour later today, before closing time when there is still time."""
        closes = datetime.combine(self.today, self.CLOSES, COMPANY_TZ).astimezone(UTC)
        midnight = local_midnight(self.today + timedelta(days=1), COMPANY_TZ)
        end = closes if closes - self.now > timedelta(minutes=30) else midnight - timedelta(minutes=1)
        if end <= self.now:
            return end
        moment = self.now + (end - self.now) * rng.random()
        local = moment.astimezone(COMPANY_TZ)
        rounded = local.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=15 * (local.minute // 15 + 1))
        return rounded.astimezone(UTC) if rounded.astimezone(UTC) < midnight else moment


class _FeedStamps:
    """Catches the feed entries the services add to a session, so that they can be dated."""

    def __init__(self, session: Session) -> None:
        self._entries: list[Activity] = []
        event.listen(session, "transient_to_pending", self._caught)

    def _caught(self, _session: Session, obj: Any) -> None:
        if isinstance(obj, Activity):
            self._entries.append(obj)

    def forget(self) -> None:
        self._entries.clear()

    def stamp(self, when: datetime) -> None:
        """Date every entry added since the last stamp."""
        for entry in self._entries:
            entry.created_at = when
        self._entries.clear()


@contextmanager
def _write(db: Database) -> Iterator[tuple[Session, _FeedStamps]]:
    with db.write() as session:
        yield session, _FeedStamps(session)


# --- people and numbers -----------------------------------------------------------------------


@dataclass
class _Person:
    desk: _Desk
    first: str
    name: str
    company_name: str | None
    position: str | None
    address: str
    phones: list[tuple[PhoneKind, str]]
    emails: list[str]
    tags: list[str]
    source: str | None

    def contact(self) -> ContactInput:
        return ContactInput(
            name=self.name,
            company_name=self.company_name,
            position=self.position,
            address=self.address,
            phones=[PhoneInput(number, kind) for kind, number in self.phones],
            emails=list(self.emails),
            tags=list(self.tags),
            source=self.source,
        )


class _People:
    """Makes customers: a name, a company, an address, valid phone numbers no one else has."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used_numbers: set[str] = set()

    def phone(self, desk: _Desk, prefix: str) -> str:
        while True:
            rest = desk.national_digits - len(prefix)
            digits = prefix + "".join(self.rng.choice("0123456789") for _digit in range(rest))
            e164 = f"+{desk.country_code}{digits}"
            if e164 in self.used_numbers:
                continue
            if phonenumbers.is_valid_number(phonenumbers.parse(e164, None)):
                self.used_numbers.add(e164)
                return e164

    def person(self, *, lead: bool = False) -> _Person:
        rng = self.rng
        desk = rng.choices(_DESKS, weights=_DESK_WEIGHTS)[0]
        first = rng.choice(desk.first_names)
        last = rng.choice(desk.last_names)
        surname = last
        if desk.two_surnames and rng.random() < 0.7:  # Spaniards mostly go by both surnames
            surname = f"{last} {rng.choice([n for n in desk.last_names if n != last])}"
        city = rng.choice(desk.cities)
        is_business = rng.random() < (0.85 if lead else 0.75)
        company_name = None
        if is_business:
            company_name = rng.choice(desk.company_patterns).format(last=rng.choice(desk.last_names), city=city.name)
        phones = [(PhoneKind.MOBILE, self.phone(desk, rng.choice(desk.mobile_prefixes)))]
        if is_business and rng.random() < 0.6:
            phones.insert(0, (PhoneKind.WORK, self.phone(desk, city.landline)))
        if rng.random() < 0.12:
            phones.append((PhoneKind.OTHER, self.phone(desk, rng.choice(desk.mobile_prefixes))))
        phones = phones[:3]
        emails: list[str] = []
        for _i in range(rng.choices((0, 1, 2), weights=(20, 60, 20))[0]):
            emails.append(self.email(desk, first, last, company_name, business=not emails))
        return _Person(
            desk=desk,
            first=first,
            name=f"{first} {surname}",
            company_name=company_name,
            position=rng.choice(desk.positions) if company_name and rng.random() < 0.8 else None,
            address=desk.address_pattern.format(
                street=rng.choice(desk.streets),
                number=rng.randint(1, 180),
                postcode=self.postcode(desk, city),
                city=city.name,
            ),
            phones=phones,
            emails=emails,
            tags=self.tags(desk, business=company_name is not None),
            source=rng.choice(_SOURCES) if rng.random() < 0.85 else None,
        )

    def email(self, desk: _Desk, first: str, last: str, company_name: str | None, *, business: bool) -> str:
        rng = self.rng
        local = rng.choice((f"{_slug(first)}.{_slug(last)}", f"{_slug(first)[0]}{_slug(last)}", _slug(first)))
        if company_name and business:
            words = [w for w in fold(company_name).split() if w not in _LEGAL_WORDS]
            domain = _slug(" ".join(words[:2])) or "empresa"
            return f"{local}@{domain}.{desk.web_tld}"
        return f"{local}{rng.randint(1, 99) if rng.random() < 0.4 else ''}@{rng.choice(desk.mail_domains)}"

    def postcode(self, desk: _Desk, city: _City) -> str:
        if desk is _GB:  # outward code of the city, then a random inward code: "M1 4BT"
            return f"{city.postcode} {self.rng.randint(1, 9)}{self.rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{self.rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        return city.postcode

    def tags(self, desk: _Desk, *, business: bool) -> list[str]:
        rng = self.rng
        tags = [tag for tag, share in _COMMON_TAGS if rng.random() < share]
        if business:
            tags += [tag for tag, share in _BUSINESS_TAGS if rng.random() < share]
            if rng.random() < 0.2:
                tags.append(rng.choice(desk.tags))
        return tags


# --- the generator ----------------------------------------------------------------------------


@dataclass
class _ClientRef:
    id: int
    person: _Person
    owner: Actor
    created_at: datetime


@dataclass
class _LeadRef:
    id: int
    person: _Person
    owner: Actor | None
    status: LeadStatus
    created_at: datetime


@dataclass
class _Team:
    admin: Actor
    managers: list[Actor]
    agents: list[Actor]
    by_desk: dict[str, list[Actor]] = field(default_factory=dict)
    managers_by_desk: dict[str, Actor] = field(default_factory=dict)

    @property
    def everyone(self) -> list[Actor]:
        return [self.admin, *self.managers, *self.agents]

    def owner_for(self, rng: random.Random, desk: _Desk) -> Actor:
        """Mostly an agent of the customer's desk; sometimes the desk's manager or the admin."""
        roll = rng.random()
        if roll < 0.05:
            return self.admin
        if roll < 0.13:
            return self.managers_by_desk.get(desk.region, self.managers[0])
        return rng.choice(self.by_desk[desk.region])


class _Generator:
    def __init__(self, db: Database, size: int, seed: int, progress: ProgressFn | None, now: datetime) -> None:
        self.db = db
        self.size = size
        self.seed = seed
        self.progress = progress or (lambda _label, _done, _total: None)
        self.clock = _Clock(now)
        self.people = _People(_rng(seed, "people"))
        self.clients: list[_ClientRef] = []
        self.leads: list[_LeadRef] = []
        self.deal_ids: list[tuple[int, _ClientRef]] = []
        self.team: _Team

    def stage(self, label: str, items: Sequence[T]) -> Iterator[Sequence[T]]:
        """The items in batches (one transaction each), reporting progress before and after each."""
        done = 0
        self.progress(label, done, len(items))
        for batch in _batches(items):
            yield batch
            done += len(batch)
            self.progress(label, done, len(items))

    def run(self) -> DemoSummary:
        self.make_company_and_team()
        self.make_clients()
        self.make_leads()
        self.make_deals()
        self.make_tasks()
        self.make_calls()
        self.make_notes()
        return self.summary()

    # -- company and team -------------------------------------------------------------------------

    def make_company_and_team(self) -> None:
        label = _("Company and team")
        self.progress(label, 0, len(_TEAM))
        rng = _rng(self.seed, "team")
        with self.db.write() as s:
            if s.exec(select(Company.id)).first() is not None:
                raise Conflict(_("This database already has a company: the demo needs an empty database."))
            chief = _TEAM[0]
            _company, admin_user = company.setup(
                s,
                company_name=COMPANY_NAME,
                admin_name=chief.name,
                admin_email=chief.email,
                extension="100",
                currency="EUR",
                region="ES",
                timezone="Europe/Madrid",
                password=DEMO_PASSWORD,
                language=chief.language,
            )
            admin = users.actor_for(s, admin_user)
            for currency, rate in EXTRA_RATES.items():
                company.set_rate(s, admin, currency, rate)
            team = _Team(admin=admin, managers=[], agents=[])
            rows: list[User] = [admin_user]
            for number, member in enumerate(_TEAM[1:], start=101):
                user = users.create_user(
                    s,
                    admin,
                    name=member.name,
                    email=member.email,
                    group=member.group,
                    extension=str(number),
                    timezone=member.timezone,
                    language=member.language,
                )
                user.password_hash = admin_user.password_hash  # hashing once keeps the demo quick
                rows.append(user)
                actor = users.actor_for(s, user)
                if member.group == "Manager":
                    team.managers.append(actor)
                    team.managers_by_desk[member.desk or "ES"] = actor
                else:
                    team.agents.append(actor)
                    team.by_desk.setdefault(member.desk or "ES", []).append(actor)
            joined = self.clock.now - timedelta(days=560)
            for user in rows:
                user.created_at = joined + timedelta(days=rng.randint(0, 200))
                # most of the team is at work right now; a few were seen earlier
                if rng.random() < 0.7:
                    user.last_seen_at = self.clock.now - timedelta(seconds=rng.randint(5, 240))
                elif rng.random() < 0.7:
                    user.last_seen_at = self.clock.now - timedelta(hours=rng.randint(2, 60))
        self.team = team
        self.progress(label, len(_TEAM), len(_TEAM))

    # -- clients ----------------------------------------------------------------------------------

    def make_clients(self) -> None:
        label = _("Clients")
        rng = _rng(self.seed, "clients")
        total = self.size - self.finished_lead_count()
        # Make everyone first, then insert in time order so that ids grow with creation dates.
        specs: list[tuple[datetime, _Person, Actor]] = []
        for i in range(total):
            if i < max(2, total // 300):
                when = self.clock.on_day(rng, self.clock.today)  # a few today: "new clients today" is not 0
            elif i < max(5, total // 100):
                when = self.clock.days_ago(rng, rng.randint(0, 6))  # and some this week
            else:
                when = self.clock.recent(rng, 548)
            person = self.people.person()
            specs.append((when, person, self.team.owner_for(rng, person.desk)))
        specs.sort(key=lambda spec: spec[0])
        for batch in self.stage(label, specs):
            with self.db.write() as s:
                for when, person, owner in batch:
                    # the owner adds their own clients, as agents do
                    client = clients.create_client(s, owner, person.contact(), created_at=when)
                    self.clients.append(_ClientRef(client.id, person, owner, when))  # type: ignore[arg-type]

    # -- leads ------------------------------------------------------------------------------------

    def finished_lead_count(self) -> int:
        return max(1, self.size // 50)

    def make_leads(self) -> None:
        label = _("Leads")
        rng = _rng(self.seed, "leads")
        pool = max(2, self.size // 10)
        owned = max(2, self.size // 10)
        finished = self.finished_lead_count()
        bad = max(1, self.size // 50)
        plan = (
            [LeadStatus.UNPROCESSED] * pool
            + [LeadStatus.IN_PROGRESS] * owned
            + [LeadStatus.FINISHED] * finished
            + [LeadStatus.BAD_QUALITY] * bad
        )
        team = self.team.everyone
        specs: list[tuple[datetime, LeadStatus, _Person, Actor | None]] = []
        for i, status in enumerate(plan):
            person = self.people.person(lead=True)
            owner = None
            if status == LeadStatus.UNPROCESSED:
                # the pool is fresh: web forms and campaigns of the last three weeks, some from today
                when = self.clock.on_day(rng, self.clock.today) if i < max(1, pool // 12) else self.clock.recent(rng, 21)
            else:
                when = self.clock.recent(rng, 120)
                if status == LeadStatus.IN_PROGRESS and i - pool < len(team):
                    owner = team[i - pool]  # everyone has a lead of their own on the go
                else:
                    owner = self.team.owner_for(rng, person.desk)
            specs.append((when, status, person, owner))
        specs.sort(key=lambda spec: spec[0])
        for batch in self.stage(label, specs):
            with _write(self.db) as (s, stamps):
                for when, status, person, owner in batch:
                    self.leads.append(self.make_lead(s, stamps, rng, when, status, person, owner))

    def make_lead(
        self,
        s: Session,
        stamps: _FeedStamps,
        rng: random.Random,
        when: datetime,
        status: LeadStatus,
        person: _Person,
        owner: Actor | None,
    ) -> _LeadRef:
        # Leads arrive in the pool (web forms, campaigns, imports); agents claim them from there.
        utm = self.utm(rng, person) if person.source in ("Web", "Google Ads") else None
        stamps.forget()
        lead = leads.create_lead(s, self.team.admin, person.contact(), to_pool=True, utm=utm)
        stamps.stamp(when)
        ref = _LeadRef(lead.id, person, None, status, when)  # type: ignore[arg-type]
        claimed = closed = None
        if owner is not None:
            ref.owner = owner
            claimed = self.clock.after(rng, when, 2)
            leads.claim_lead(s, ref.owner, ref.id)
            stamps.stamp(claimed)
        if status == LeadStatus.FINISHED:
            closed = self.clock.after(rng, claimed, 20)  # type: ignore[arg-type]
            client = leads.close_as_client(s, ref.owner, ref.id)  # type: ignore[arg-type]
            client.created_at = client.updated_at = closed
            self.clients.append(_ClientRef(client.id, person, ref.owner, closed))  # type: ignore[arg-type]
            stamps.stamp(closed)
        elif status == LeadStatus.BAD_QUALITY:
            closed = self.clock.after(rng, claimed, 5)  # type: ignore[arg-type]
            leads.close_as_bad(s, ref.owner, ref.id, rng.choice(person.desk.bad_reasons))  # type: ignore[arg-type]
            stamps.stamp(closed)
        # the services stamped "now"; date the lead as it happened (after they ran, since they refresh it)
        lead.created_at = when
        lead.claimed_at = claimed
        lead.closed_at = closed
        lead.updated_at = closed or claimed or when
        return ref

    def utm(self, rng: random.Random, person: _Person) -> dict[str, str]:
        source, medium = ("google", "cpc") if person.source == "Google Ads" else rng.choice(_UTM_SOURCES)
        utm = {"utm_source": source, "utm_medium": medium, "utm_campaign": rng.choice(person.desk.utm_campaigns)}
        if medium == "cpc":
            utm["utm_term"] = rng.choice(person.desk.utm_terms)
        if rng.random() < 0.4:
            utm["utm_content"] = rng.choice(("banner-a", "banner-b", "form-footer", "landing-v2"))
        return utm

    # -- deals ------------------------------------------------------------------------------------

    def make_deals(self) -> None:
        label = _("Deals")
        rng = _rng(self.seed, "deals")
        total = max(len(DealStatus), self.size // 4)
        statuses = list(DealStatus)
        # older deals are mostly decided; recent ones are still moving through the pipeline
        final_statuses = _cover(rng, statuses, (4, 10, 6, 4, 30, 12), total)
        specs = []
        for i in range(total):
            ref = rng.choice(self.clients)
            created = self.clock.after(rng, ref.created_at, 60)
            status = final_statuses[i]
            if status not in (DealStatus.WON, DealStatus.CANCELLED) and (self.clock.now - created).days > 120:
                created = self.clock.now - timedelta(days=rng.randint(1, 90))
                created = max(created, ref.created_at)
            specs.append((created, ref, status))
        currencies = self.deal_currencies(rng, specs)
        order = sorted(range(total), key=lambda i: specs[i][0])
        for batch in self.stage(label, order):
            with self.db.write() as s:
                for i in batch:
                    created, ref, status = specs[i]
                    self.make_deal(s, rng, created, ref, status, currencies[i])

    def deal_currencies(self, rng: random.Random, specs: list[tuple[datetime, _ClientRef, DealStatus]]) -> list[str]:
        """British customers pay in pounds, a few international ones in dollars, everyone else in euros."""
        out = []
        for _created, ref, _status in specs:
            out.append("USD" if rng.random() < 0.07 else ref.person.desk.currency)
        for needed in ("USD", "GBP", "EUR"):  # a small demo still shows every currency
            if needed not in out and out:
                out[rng.randrange(len(out))] = needed
        return out

    def make_deal(
        self, s: Session, rng: random.Random, created: datetime, ref: _ClientRef, status: DealStatus, currency: str
    ) -> None:
        desk = ref.person.desk
        lines = rng.choice((2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25))
        title = rng.choice(desk.deal_titles).format(n=lines)
        monthly = Decimal(rng.choice((19, 24, 29, 35, 39, 45, 59))) + Decimal("0.90")
        amount = (monthly * lines * rng.choice((12, 24, 36))).quantize(Decimal("1"))
        if rng.random() < 0.3:
            amount = Decimal(rng.choice((450, 890, 1200, 1500, 2400, 3900)))  # one-off installs
        deal = deals.create_deal(
            s, ref.owner, client_id=ref.id, title=title, amount=amount, currency=currency, created_at=created
        )
        # walk it along the pipeline as the agent did, so that its feed tells the story
        if status == DealStatus.CANCELLED:  # lost early on: after 0, 1 or 2 steps
            steps = [*DEAL_PIPELINE[1 : rng.randint(1, 3)], DealStatus.CANCELLED]
        else:
            steps = list(DEAL_PIPELINE[1 : DEAL_PIPELINE.index(status) + 1])
        moment = created
        for step in steps:
            moment = self.clock.after(rng, moment, 15)
            deals.move_deal(s, ref.owner, deal.id, step, at=moment)
        self.deal_ids.append((deal.id, ref))

    def clients_by_owner(self) -> dict[int, list[_ClientRef]]:
        owned: dict[int, list[_ClientRef]] = {user.id: [] for user in self.team.everyone}
        for ref in self.clients:
            owned[ref.owner.id].append(ref)
        return owned

    # -- tasks ------------------------------------------------------------------------------------

    def make_tasks(self) -> None:
        label = _("Tasks")
        rng = _rng(self.seed, "tasks")
        team = self.team.everyone
        # everyone's calendar starts with something overdue, something due today and something
        # done this week; the rest is spread over overdue, today, done and later
        firsts = ["overdue", "today", "done_this_week"]
        total = max(len(firsts) * len(team), self.size * 3 // 10)
        rest = total - len(firsts) * len(team)
        types = _cover(rng, list(TaskType), (40, 35, 10, 15), total)
        whens = firsts * len(team) + _cover(rng, ["overdue", "today", "done", "later"], (14, 12, 44, 30), rest)
        assignees: list[Actor | None] = [user for user in team for _first in firsts] + [None] * rest
        open_leads = [lead for lead in self.leads if lead.status == LeadStatus.IN_PROGRESS]
        clients_of = self.clients_by_owner()
        for batch in self.stage(label, range(total)):
            with _write(self.db) as (s, stamps):
                for i in batch:
                    about: _ClientRef | _LeadRef = rng.choice(self.clients)
                    if open_leads and rng.random() < 0.12:
                        about = rng.choice(open_leads)
                    assignee = assignees[i]
                    if assignee is not None:  # the assignee's own client, when they have one
                        own = clients_of[assignee.id]
                        about = rng.choice(own) if own else about
                    self.make_task(s, stamps, rng, types[i], whens[i], about, assignee)

    def make_task(
        self,
        s: Session,
        stamps: _FeedStamps,
        rng: random.Random,
        type_: TaskType,
        when: str,
        about: _ClientRef | _LeadRef,
        assignee: Actor | None,
    ) -> None:
        deal_id = None
        if isinstance(about, _ClientRef) and self.deal_ids and rng.random() < 0.25:
            deal_id, about = rng.choice(self.deal_ids)
        assignee = assignee or about.owner or self.team.admin
        desk = about.person.desk
        # managers hand out some of the work (to anyone); agents plan their own
        creator = assignee
        if (assignee in self.team.agents and rng.random() < 0.25) or assignee != about.owner:
            creator = self.team.managers_by_desk.get(desk.region, self.team.managers[0])
        if when == "overdue":
            due = self.clock.days_ago(rng, rng.randint(1, 12))
        elif when == "today":
            due = self.clock.later_today(rng) if rng.random() < 0.7 else self.clock.on_day(rng, self.clock.today)
        elif when == "done_this_week":
            due = self.clock.this_week(rng)
        elif when == "done":
            due = self.clock.recent(rng, 300)
        else:
            due = self.clock.future(rng, 30)
        created = min(due, self.clock.now) - timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600))
        created = min(max(created, about.created_at), self.clock.now)
        name = about.person.name
        title = rng.choice(desk.task_titles[type_]).format(name=name, company=about.person.company_name or name)
        is_lead = isinstance(about, _LeadRef)
        stamps.forget()
        task = tasks.create_task(
            s,
            creator,
            title=title,
            type=type_,
            start_at=due - timedelta(minutes=30) if type_ == TaskType.VIDEO else None,
            due_at=due,
            assignee_id=assignee.id,
            participant_ids=(creator.id,) if type_ == TaskType.VIDEO and creator != assignee else (),
            client_id=None if is_lead else about.id,
            lead_id=about.id if is_lead else None,
            deal_id=deal_id,
            sms_text=rng.choice(desk.sms_texts).format(first=about.person.first) if type_ == TaskType.SMS else None,
            created_at=created,
        )
        stamps.stamp(created)
        if when.startswith("done"):
            finished = self.clock.after(rng, max(created, due - timedelta(hours=4)), 1)
            tasks.complete_task(s, assignee, task.id, at=finished)
            stamps.stamp(finished)

    # -- calls ------------------------------------------------------------------------------------

    def make_calls(self) -> None:
        label = _("Calls")
        rng = _rng(self.seed, "calls")
        total = max(len(CallOutcome), self.size)
        outcomes = _cover(rng, list(CallOutcome), (62, 20, 8, 6, 4), total)
        open_leads = [lead for lead in self.leads if lead.owner is not None and lead.status == LeadStatus.IN_PROGRESS]
        team = self.team.everyone
        clients_of = self.clients_by_owner()
        specs = []
        for i in range(total):
            target: _ClientRef | _LeadRef = rng.choice(self.clients)
            if open_leads and rng.random() < 0.15:
                target = rng.choice(open_leads)
            if i < max(len(team), total // 30):
                # today's calls, some for everyone, so that every dashboard shows calls today
                started = self.clock.on_day(rng, self.clock.today)
                own = clients_of[team[i % len(team)].id]
                target = rng.choice(own) if own else target
            else:
                started = self.clock.recent(rng, 180)
            specs.append((started, target, outcomes[i]))
        specs.sort(key=lambda spec: spec[0])
        numbered = list(enumerate(specs, start=1))
        for batch in self.stage(label, numbered):
            with self.db.write() as s:
                for number, (started, target, outcome) in batch:
                    self.make_call(s, rng, number, started, target, outcome)

    def make_call(
        self,
        s: Session,
        rng: random.Random,
        number: int,
        started: datetime,
        target: _ClientRef | _LeadRef,
        outcome: CallOutcome,
    ) -> None:
        person = target.person
        agent = target.owner or self.team.owner_for(rng, person.desk)
        if target.created_at > started:
            started = self.clock.after(rng, target.created_at, 3)
        inbound = rng.random() < 0.35
        answered_at = ended_at = None
        if outcome == CallOutcome.ANSWERED:
            answered_at = started + timedelta(seconds=rng.randint(3, 25))
            ended_at = answered_at + timedelta(seconds=int(rng.lognormvariate(5.0, 0.8)) + 10)
        elif outcome == CallOutcome.NO_ANSWER:
            ended_at = started + timedelta(seconds=rng.randint(20, 45))
        elif outcome == CallOutcome.BUSY:
            ended_at = started + timedelta(seconds=rng.randint(1, 4))
        elif outcome == CallOutcome.REJECTED:
            ended_at = started + timedelta(seconds=rng.randint(3, 15))
        else:
            ended_at = started + timedelta(seconds=rng.randint(0, 2))
        if ended_at > self.clock.now:  # a call of the last minutes: it is over by now
            early = ended_at - self.clock.now + timedelta(seconds=rng.randint(30, 300))
            started, ended_at = started - early, ended_at - early
            answered_at = answered_at - early if answered_at is not None else None
        recording = transcript = None
        if answered_at is not None and rng.random() < 0.4:
            local = started.astimezone(COMPANY_TZ)
            recording = f"recordings/{local:%Y/%m/%d}/call-{number:06d}.wav"
            if rng.random() < 0.5:
                transcript = rng.choice(person.desk.transcripts).format(agent=agent.name.split()[0], client=person.name)
        our_number = _OUR_NUMBERS[person.desk.region]
        their_number = rng.choice(person.phones)[1]
        is_lead = isinstance(target, _LeadRef)
        calls.log_call(
            s,
            agent,
            direction=CallDirection.INBOUND if inbound else CallDirection.OUTBOUND,
            their_number=their_number,
            agent_id=agent.id,
            started_at=started,
            answered_at=answered_at,
            ended_at=ended_at,
            outcome=outcome,
            our_number=our_number,
            recording_ref=recording,
            transcript=transcript,
            source_did=our_number if inbound else None,
            client_id=None if is_lead else target.id,
            lead_id=target.id if is_lead else None,
        )

    # -- notes ------------------------------------------------------------------------------------

    def make_notes(self) -> None:
        label = _("Notes")
        rng = _rng(self.seed, "notes")
        total = max(3, self.size // 3)
        open_leads = [lead for lead in self.leads if lead.status == LeadStatus.IN_PROGRESS]
        picks: list[_ClientRef | _LeadRef] = [
            rng.choice(open_leads) if open_leads and rng.random() < 0.1 else rng.choice(self.clients)
            for _i in range(total)
        ]
        for batch in self.stage(label, picks):
            with _write(self.db) as (s, stamps):
                for about in batch:
                    text = rng.choice(about.person.desk.notes).format(n=rng.randint(2, 15))
                    author = about.owner or self.team.admin
                    stamps.forget()
                    if isinstance(about, _LeadRef):
                        notes.add_note(s, author, text, lead_id=about.id)
                    else:
                        notes.add_note(s, author, text, client_id=about.id)
                    stamps.stamp(self.clock.after(rng, about.created_at, 90))

    # -- what was made ----------------------------------------------------------------------------

    def summary(self) -> DemoSummary:
        with self.db.read() as s:

            def count(model: Any, *conditions: Any) -> int:
                return int(s.exec(select(func.count()).select_from(model).where(*conditions)).one())

            return DemoSummary(
                users=count(User),
                clients=count(Client),
                leads_pool=count(Lead, col(Lead.owner_id).is_(None), Lead.status == LeadStatus.UNPROCESSED),
                leads_owned=count(Lead, col(Lead.owner_id).is_not(None)),
                deals=count(Deal),
                tasks=count(Task),
                calls=count(Call),
                activities=count(Activity),
                admin_email=ADMIN_EMAIL,
            )


def generate(
    db: Database,
    *,
    size: int = 2000,
    seed: int = 7,
    progress: ProgressFn | None = None,
    now: datetime | None = None,
) -> DemoSummary:
    """Fill an empty, migrated database with a realistic call centre; see the module docstring.

    ``progress(label, done, total)`` is called as each stage advances (label is translated).
    Raises ``Conflict`` when the database already has a company.
    """
    if not 1 <= size <= MAX_SIZE:
        raise ValidationError(_("size: between 1 and {max}").format(max=MAX_SIZE), "size")
    moment = now or utcnow()
    if moment.tzinfo is None:
        raise ValidationError(_("now: give a time with its time zone"), "now")
    return _Generator(db, size, seed, progress, moment.astimezone(UTC)).run()
