"""The diary grid's columns as HTML, built in Python because the template engine is the slow part.

A full day is ~600 appointment blocks; through template loops that alone costs more than the whole page
budget. The ~1,000 empty slots are not sent: the page script draws them from each column's working hours
(``working_hours``), and the page's one booking URL. Every value from the database is escaped here; the
rest are numbers, dates and times formatted by this module.
"""

from dataclasses import dataclass
from datetime import date, datetime
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


def _hhmm(moment: datetime) -> str:
    """"10:00", formatted by hand: strftime was most of a block's cost on a full day."""
    return f"{moment.hour:02d}:{moment.minute:02d}"


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

    def block(self, entry, day: date) -> str:
        """One appointment. The move script (static/js/diary_move.js) reads the rest from the page: its id from the
        link, its times from --top and --len, its practitioner and day from the column. One that starts or ends on
        another day is marked ``span-days``: it is moved from its panel, not on the grid."""
        # Wall-clock minutes clamped to the day shown, so a daylight-saving day still lines up with its labels.
        start, end = entry.start, entry.end
        start_min = start.hour * 60 + start.minute if start.date() == day else 0
        end_min = end.hour * 60 + end.minute if end.date() == day else 24 * 60
        end_min = max(end_min, start_min + 5)
        css = "appt" if entry.status == Status.BOOKED else f"appt st-{escape(entry.status)}"
        status = "" if entry.status == Status.BOOKED else f' <span class="st">{Status(entry.status).label}</span>'
        if start.date() != day or (end.date() != day and (end.hour or end.minute)):
            css += " span-days"
        # Only a telehealth block has badges, and an id for the live poll's out-of-band swaps (views.diary_zoom_live).
        badges = f'<span class="badges" id="zb{entry.pk}">{self.badge(entry)}</span>' if entry.is_telehealth else ""
        return (
            f'<a class="{css}" href="{self.appointment_url}{entry.pk}/" style="--top:{_rows(start_min - self.first)};'
            f'--len:{_rows(end_min - start_min)};--type:{escape(entry.colour)}">'
            f'<span class="t">{_hhmm(start)}–{_hhmm(end)}</span> '
            f'<strong>{escape(entry.client_name)}</strong> <span class="ty">{escape(entry.type_name)}</span>'
            f'{status}{badges}</a>'
        )

    def badge(self, entry) -> str:
        return zoom_badge(is_telehealth=entry.is_telehealth, state=entry.zoom_state, error=entry.zoom_error,
                          poll_url=f"{self.appointment_url}{entry.pk}/?part=zoom-badge", **entry.zoom_live)

    def column(self, *, day: date, entries) -> SafeString:
        """A column's appointment blocks (its empty slots are drawn by the page script, from ``working_hours``)."""
        return mark_safe("".join([self.block(entry, day) for entry in entries]))  # noqa: S308 - escaped above
