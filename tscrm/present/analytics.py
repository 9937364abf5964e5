"""The analytics reports as rows of text, shared by ``tscrm analytics`` and the Analytics screen.

Each ``*_table`` function returns the column headers, the rows (one per agent, then the total) and
which columns hold figures (to align them right).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tscrm.i18n import _
from tscrm.labels import DEAL_STATUSES, label
from tscrm.present import day_label, format_money
from tscrm.present.calls import duration_text

if TYPE_CHECKING:
    from tscrm.core.analytics import CallReport, DealReport, LeadReport, Period, TaskReport

Table = tuple[list[str], list[list[str]], set[int]]


def rate_text(rate: Decimal | None) -> str:
    """A percentage ("66.7 %"), or a dash when there was nothing to divide."""
    return "—" if rate is None else f"{rate} %"


def talk_text(seconds: int) -> str:
    return duration_text(seconds) or "0:00"


def period_text(period: Period) -> str:
    """"1 Mar 2026 – 31 Mar 2026" (one day alone when the period is a day)."""
    first = day_label(period.first, "d MMM y")
    return first if period.first == period.last else f"{first} – {day_label(period.last, 'd MMM y')}"


def call_table(report: CallReport) -> Table:
    headers = [_("Agent"), _("Calls"), _("Outbound"), _("Inbound"), _("Answered"), _("Missed"), _("No answer"), _("Talk time"), _("Average")]
    rows = [
        [f.agent, str(f.total), str(f.outbound), str(f.inbound), str(f.answered), str(f.missed), str(f.no_answer),
         talk_text(f.talk_seconds), talk_text(f.average_talk_seconds)]
        for f in [*report.agents, report.total]
    ]
    return headers, rows, set(range(1, len(headers)))


def deal_table(report: DealReport) -> Table:
    headers = [_("Agent"), _("Created"), _("Won"), _("Won amount"), _("Cancelled"), _("Win rate"), _("Average deal")]
    rows = [
        [f.agent, str(f.created), str(f.won), format_money(f.won_amount, report.currency), str(f.cancelled),
         rate_text(f.win_rate), format_money(f.average_won, report.currency) if f.average_won is not None else "—"]
        for f in [*report.agents, report.total]
    ]
    return headers, rows, set(range(1, len(headers)))


def funnel_table(report: DealReport) -> Table:
    headers = [_("Stage"), _("Deals"), _("Amount")]
    rows = [[label(DEAL_STATUSES, s.status.value), str(s.count), format_money(s.amount, report.currency)] for s in report.funnel]
    rows.append([_("Total"), str(sum(s.count for s in report.funnel)), format_money(sum((s.amount for s in report.funnel), Decimal(0)), report.currency)])
    return headers, rows, {1, 2}


def lead_table(report: LeadReport) -> Table:
    headers = [_("Agent"), _("Claimed"), _("Converted"), _("Bad quality"), _("Conversion rate")]
    rows = [
        [f.agent, str(f.claimed), str(f.converted), str(f.bad_quality), rate_text(f.conversion_rate)]
        for f in [*report.agents, report.total]
    ]
    return headers, rows, {1, 2, 3, 4}


def source_table(report: LeadReport) -> Table:
    headers = [_("Source"), _("New leads")]
    rows = [[s.source if s.source is not None else _("(no source)"), str(s.created)] for s in report.sources]
    rows.append([_("Total"), str(report.created)])
    return headers, rows, {1}


def task_table(report: TaskReport) -> Table:
    headers = [_("Agent"), _("Due"), _("Done"), _("Overdue")]
    rows = [[f.agent, str(f.due), str(f.done), str(f.overdue)] for f in [*report.agents, report.total]]
    return headers, rows, {1, 2, 3}
