"""The company: set-up, currencies and conversion to the base currency."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlmodel import Session, select

from tscrm.core.errors import Conflict, NotFound, ValidationError
from tscrm.core.models import Company, CurrencyRate, User
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import users
from tscrm.i18n import _

# ISO 4217 codes babel knows are enough to refuse typos like "EUROS".
def check_currency(code: str, field: str = "currency") -> str:
    value = (code or "").strip().upper()
    from babel.numbers import get_currency_name  # babel loads its data lazily

    if len(value) != 3 or get_currency_name(value, locale="en") == value:
        raise ValidationError(_("{field}: {code!r} is not an ISO 4217 currency code").format(field=field, code=code), field)
    return value


def check_region(code: str | None) -> str | None:
    if not code:
        return None
    import phonenumbers

    value = code.strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(_("region: {code!r} is not a country code like ES or FR").format(code=code), "region")
    return value


def get_company(session: Session) -> Company:
    company = session.exec(select(Company)).first()
    if company is None:
        raise NotFound(_("No company yet. Run `tscrm init` first."))
    return company


def setup(
    session: Session,
    *,
    company_name: str,
    admin_name: str,
    admin_email: str,
    extension: str | None = None,
    currency: str = "EUR",
    region: str | None = None,
    timezone: str = "UTC",
    password: str | None = None,
    language: str = "en",
) -> tuple[Company, User]:
    """The setup assistant: a company, the built-in groups, and the first admin."""
    if session.exec(select(Company.id)).first() is not None:
        raise Conflict(_("This database already has a company; nothing was changed."))
    if not company_name.strip():
        raise ValidationError(_("company: a company needs a name"), "company")
    company = Company(
        name=company_name.strip(),
        base_currency=check_currency(currency),
        default_region=check_region(region),
        timezone=users.check_timezone(timezone),
    )
    session.add(company)
    admin = users.create_user(
        session,
        None,
        name=admin_name,
        email=admin_email,
        group="Admin",
        extension=extension,
        password=password,
        timezone=timezone,
        language=language,
    )
    return company, admin


def set_dial_without_country_code(session: Session, actor: Actor, value: bool) -> Company:
    """"Call without country code": numbers of the company's own country are dialled nationally."""
    actor.require(Right.MANAGE_TEAM)
    company = get_company(session)
    company.dial_without_country_code = bool(value)
    session.flush()
    return company


def set_rate(session: Session, actor: Actor, currency: str, rate: Decimal | str) -> CurrencyRate:
    """Add or change an extra currency: 1 ``currency`` = ``rate`` base units."""
    actor.require(Right.MANAGE_TEAM)
    company = get_company(session)
    code = check_currency(currency)
    if code == company.base_currency:
        raise ValidationError(_("currency: {code} is already the base currency").format(code=code), "currency")
    try:
        value = Decimal(str(rate))
    except InvalidOperation as exc:
        raise ValidationError(_("rate: {rate!r} is not a number").format(rate=rate), "rate") from exc
    if value <= 0:
        raise ValidationError(_("rate: must be positive"), "rate")
    row = session.exec(
        select(CurrencyRate).where(CurrencyRate.company_id == company.id, CurrencyRate.currency == code)
    ).first()
    if row is None:
        row = CurrencyRate(company_id=company.id, currency=code, rate=value)  # type: ignore[arg-type]
        session.add(row)
    else:
        row.rate = value
    session.flush()
    return row


def rates(session: Session) -> dict[str, Decimal]:
    """Every currency the company uses, with its value in base units (the base itself is 1)."""
    company = get_company(session)
    table = {company.base_currency: Decimal(1)}
    for row in session.exec(select(CurrencyRate).where(CurrencyRate.company_id == company.id)):
        table[row.currency] = row.rate
    return table


def to_base(amount: Decimal, currency: str, table: dict[str, Decimal]) -> Decimal:
    try:
        return (amount * table[currency]).quantize(Decimal("0.01"))
    except KeyError as exc:
        raise ValidationError(
            _("currency: {code} has no exchange rate; add it in the company settings").format(code=currency),
            "currency",
        ) from exc
