"""The diary grid's columns as HTML, built in Python because the template engine is the slow part.

A full day is ~600 appointment blocks; through template loops that alone costs more than the whole page
budget. The ~1,000 empty slots are not sent: the page script draws them from each column's working hours
(``working_hours``), and the page's one booking URL. Every value from the database is escaped here; the
rest are numbers, dates and times formatted by this module.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from html import escape

from django.utils.safestring import SafeString, mark_safe

from scheduling.models import Status
from telehealth.models import LiveState, MeetingState

SLOT_MINUTES = 15
# The Zoom badge on a telehealth block, by the meeting's state: (class, text, prefix of the hover reason).
ZOOM_BADGES: dict[str, tuple[str, str, str]] = {
    MeetingState.ACTIVE: ("zoom", "Zoom", ""),
    MeetingState.PENDING_CREATE: ("warn", "Zoom pending", "pending: "),
    MeetingState.FAILED: ("bad", "Zoom failed", "failed: "),
}
# A create still under way and not failing yet: the block says so and asks again until it is settled.
CREATING_BADGE = ("warn", "Creating Zoom meeting…", "")
# Reported by Zoom's webhooks (issue 12): the meeting was deleted or changed in Zoom, outside the app.
ZOOM_DELETED_BADGE = ("bad", "Deleted in Zoom", "")
ZOOM_CHANGED_BADGE = ("warn", "Changed in Zoom", "")
LIVE_BADGES: dict[str, tuple[str, str]] = {
    LiveState.IN_PROGRESS: ("live", "In progress"),
    LiveState.ENDED: ("muted", "Ended"),
}
POLL_SECONDS = 5
CONFIRMED_MARK = ' <b class="cf" title="Confirmed">✓<span class="visually-hidden">Confirmed</span></b>'


def zoom_badge(*, is_telehealth: bool, state: str | None, error: str | None, poll_url: str = "",
               live_state: str = "", waiting_since: datetime | None = None, deleted_in_zoom: bool = False,
               changed_in_zoom: bool = False) -> str:
    """The badges' HTML. While the meeting is being created it polls ``poll_url`` (htmx) and replaces itself.

    What Zoom's webhooks reported (issue 12) comes after: deleted or changed in Zoom replaces the meeting's own
    badge; "Client waiting since" (``waiting_since`` already in the practice's zone), "In progress" and "Ended"
    follow it.
    """
    if not is_telehealth:
        return ""
    if state == MeetingState.PENDING_CREATE and not error:
        css, text, prefix = CREATING_BADGE
    elif state == MeetingState.DELETED and deleted_in_zoom:
        css, text, prefix = ZOOM_DELETED_BADGE
    elif state == MeetingState.ACTIVE and changed_in_zoom:
        css, text, prefix = ZOOM_CHANGED_BADGE
    else:
        css, text, prefix = ZOOM_BADGES.get(state or "", ("bad", "No Zoom meeting", ""))
    title = f' title="{escape(prefix + error)}"' if prefix and error else ""
    poll = ""
    if state == MeetingState.PENDING_CREATE and poll_url:
        # Slower while Zoom is failing (the retry is minutes away); hx-target overrides the diary's #panel.
        every = POLL_SECONDS if not error else POLL_SECONDS * 6
        poll = (f' hx-get="{escape(poll_url)}" hx-trigger="every {every}s" hx-target="this" hx-swap="outerHTML"'
                ' hx-push-url="false"')
    badge = f'<span class="badge {css}"{title}{poll}>{text}</span>'
    if state != MeetingState.ACTIVE:
        return badge
    if waiting_since is not None:
        badge += f'<span class="badge waiting">Client waiting since {waiting_since:%H:%M}</span>'
    if live_state in LIVE_BADGES:
        live_css, live_text = LIVE_BADGES[live_state]
        badge += f'<span class="badge {live_css}">{live_text}</span>'
    return badge


# "10:00" for each minute of the day: strftime was most of a block's cost on a full day.
HHMM = [f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(24 * 60)]

# A day repeats its clients' names, types and colours: each is escaped once (per worker, the most recent few
# thousand).
_escape = lru_cache(maxsize=4096)(escape)


def _hhmm(moment: datetime) -> str:
    return HHMM[moment.hour * 60 + moment.minute]


def _rows(minutes: int) -> str:
    """Grid rows as CSS reads them: "4", or "1.3333" for a time between slot lines (a float's repr is 18 characters)."""
    if minutes % SLOT_MINUTES == 0:
        return str(minutes // SLOT_MINUTES)
    return f"{minutes / SLOT_MINUTES:.4f}".rstrip("0")


def working_hours(shifts) -> str:
    """A column's working hours as the page script reads them: "480-720 780-1020" (minutes after midnight).

    The page script (static/js/diary_keys.js) draws the column's empty slots from these, shaded outside them:
    ~50 links per column sent as HTML were two fifths of a full day's page.
    """
    return " ".join(f"{s.starts_at.hour * 60 + s.starts_at.minute}-{s.ends_at.hour * 60 + s.ends_at.minute}"
                    for s in shifts)


@dataclass(frozen=True)
class Layout:
    first: int  # minutes after midnight of the first row
    appointment_url: str  # ends with "/", the pk and "/" are appended
    # Where a block goes and the times it shows, by (start, end, day): a day's appointments share their times.
    places: dict = field(default_factory=dict, compare=False)

    def block(self, entry, day: date) -> str:
        """One appointment. The move script (static/js/diary_move.js) reads the rest from the page: its id from the
        link, its times from --top and --len, its practitioner and day from the column. One that starts or ends on
        another day is marked ``span-days``: it is moved from its panel, not on the grid."""
        key = (entry.start, entry.end, day)
        place = self.places.get(key) or self.places.setdefault(key, self._place(entry.start, entry.end, day))
        css = "" if entry.status == Status.BOOKED else f" st-{_escape(entry.status)}"
        status = "" if entry.status == Status.BOOKED else f' <span class="st">{Status(entry.status).label}</span>'
        if entry.confirmed:  # the smallest mark: a tick, its word for screen readers and on hover
            status += CONFIRMED_MARK
        # Only a telehealth block has badges, and an id for the live poll's out-of-band swaps (views.diary_zoom_live).
        badges = f'<span class="badges" id="zb{entry.pk}">{self.badge(entry)}</span>' if entry.is_telehealth else ""
        return (
            f'<a class="appt{css}{place[0]}" href="{self.appointment_url}{entry.pk}/" style="{place[1]}'
            f'--type:{_escape(entry.colour)}">{place[2]}'
            f'<strong>{_escape(entry.client_name)}</strong> <span class="ty">{_escape(entry.type_name)}</span>'
            f'{status}{badges}</a>'
        )

    def _place(self, start: datetime, end: datetime, day: date) -> tuple[str, str, str]:
        """(" span-days" or "", "--top:…;--len:…;", the times shown) for a block."""
        # Wall-clock minutes clamped to the day shown, so a daylight-saving day still lines up with its labels.
        start_min = start.hour * 60 + start.minute if start.date() == day else 0
        end_min = end.hour * 60 + end.minute if end.date() == day else 24 * 60
        end_min = max(end_min, start_min + 5)
        spans_days = start.date() != day or (end.date() != day and (end.hour or end.minute))
        return (" span-days" if spans_days else "",
                f"--top:{_rows(start_min - self.first)};--len:{_rows(end_min - start_min)};",
                f'<span class="t">{_hhmm(start)}–{_hhmm(end)}</span> ')

    def badge(self, entry) -> str:
        return zoom_badge(is_telehealth=entry.is_telehealth, state=entry.zoom_state, error=entry.zoom_error,
                          poll_url=f"{self.appointment_url}{entry.pk}/?part=zoom-badge", **entry.zoom_live)

    def column(self, *, day: date, entries) -> SafeString:
        """A column's appointment blocks (its empty slots are drawn by the page script, from ``working_hours``)."""
        return mark_safe("".join([self.block(entry, day) for entry in entries]))  # noqa: S308 - escaped above


# The grid's column headings and columns (selectors.Column), for scheduling/diary.html through scheduling_tags. Here
# rather than in the template: at 80 practitioners the template's loops were a third of the page's time. ``shown`` is
# the one practitioner a phone shows, or None: the other columns are hidden on a phone.

def _phone_hidden(col, shown) -> str:
    return " phone-hidden" if shown is not None and col.practitioner.pk != shown.pk else ""


def column_heads(columns, *, shown) -> SafeString:
    return mark_safe("".join([  # noqa: S308 - escaped here
        f'<div class="colhead{_phone_hidden(col, shown)}" style="--c:{_escape(col.colour)}">'
        f'<strong>{_escape(col.title)}</strong>{f"<span>{_escape(col.subtitle)}</span>" if col.subtitle else ""}</div>'
        for col in columns]))


def practitioner_options(practitioners, *, chosen) -> SafeString:
    """A practitioner picker's options, ``chosen`` selected: the phone's column switcher and the week's picker.
    (Through the template, twenty options took 1.4 ms of the week's page.)"""
    chosen_pk = chosen.pk if chosen is not None else None
    return mark_safe("".join([  # noqa: S308 - escaped here
        f'<option value="{p.pk}" {"selected" if p.pk == chosen_pk else ""}>{_escape(p.display_name)}</option>'
        for p in practitioners]))


def columns(columns, *, shown) -> SafeString:
    return mark_safe("".join([  # noqa: S308 - escaped here; col.html is escaped by Layout.column
        f'<div class="col{" today" if col.is_today else ""}{_phone_hidden(col, shown)}" role="group" '
        f'aria-label="{_escape(col.title)}" data-hours="{col.hours}" data-practitioner="{col.practitioner.pk}" '
        f'data-date="{col.day.isoformat()}"{" data-droppable" if col.bookable else ""}>{col.html}</div>'
        for col in columns]))
