"""The diary grid's columns as HTML, built in Python because the template engine is the slow part.

A full day is ~1,000 empty-slot links and ~600 appointment blocks; through template loops that alone
costs more than the whole page budget. Every value from the database is escaped here; the rest are
numbers, dates and times formatted by this module.
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


def _hhmm(moment: datetime) -> str:
    """"10:00", formatted by hand: strftime was most of a block's cost on a full day."""
    return f"{moment.hour:02d}:{moment.minute:02d}"


@dataclass(frozen=True)
class Layout:
    first: int  # minutes after midnight of the first row
    last: int  # minutes after midnight where the last row ends
    book_url: str
    appointment_url: str  # ends with "/", the pk and "/" are appended

    def slots(self, *, day: date, practitioner_id: int, shifts, bookable: bool) -> str:
        spans = [(s.starts_at.hour * 60 + s.starts_at.minute, s.ends_at.hour * 60 + s.ends_at.minute)
                 for s in shifts]
        prefix = f"{escape(self.book_url)}?practitioner={practitioner_id}&amp;start={day.isoformat()}T"
        parts = []
        for minute in range(self.first, self.last, SLOT_MINUTES):
            hhmm = f"{minute // 60:02d}:{minute % 60:02d}"
            off = "" if any(a <= minute < b for a, b in spans) else " off"
            if bookable:
                parts.append(f'<a class="slot{off}" href="{prefix}{hhmm}" title="Book {hhmm}"></a>')
            else:  # a colleague's diary, for a practitioner: visible, not bookable
                parts.append(f'<span class="slot{off}"></span>')
        return "".join(parts)

    def block(self, entry, day: date, *, movable: bool = False) -> str:
        """One appointment; a ``movable`` one carries what static/js/diary_move.js needs to drag it."""
        # Wall-clock minutes clamped to the day shown, so a daylight-saving day still lines up with its labels.
        start_min = entry.start.hour * 60 + entry.start.minute if entry.start.date() == day else 0
        end_min = entry.end.hour * 60 + entry.end.minute if entry.end.date() == day else 24 * 60
        end_min = max(end_min, start_min + 5)
        top = (start_min - self.first) / SLOT_MINUTES
        length = (end_min - start_min) / SLOT_MINUTES
        status = "" if entry.status == Status.BOOKED else f' <span class="st">{Status(entry.status).label}</span>'
        if entry.confirmed:  # the smallest mark: a tick, its word for screen readers and on hover
            status += CONFIRMED_MARK
        start, end = _hhmm(entry.start), _hhmm(entry.end)
        move = ""
        if movable:
            move = (f' data-id="{entry.pk}" data-practitioner="{entry.practitioner_id}"'
                    f' data-start="{entry.start.date().isoformat()}T{start}"'
                    f' data-end="{entry.end.date().isoformat()}T{end}"'
                    f' data-move-url="{self.appointment_url}{entry.pk}/move/"')
        return (
            f'<a class="appt st-{escape(entry.status)}" href="{self.appointment_url}{entry.pk}/"{move} '
            f'style="--top:{top};--len:{length};--type:{escape(entry.colour)}">'
            f'<span class="t">{start}–{end}</span> '
            f'<strong>{escape(entry.client_name)}</strong> <span class="ty">{escape(entry.type_name)}</span>'
            f'{status}<span class="badges" id="zb{entry.pk}">{self.badge(entry)}</span></a>'
        )

    def badge(self, entry) -> str:
        return zoom_badge(is_telehealth=entry.is_telehealth, state=entry.zoom_state, error=entry.zoom_error,
                          poll_url=f"{self.appointment_url}{entry.pk}/?part=zoom-badge", **entry.zoom_live)


    def column(self, *, day: date, practitioner_id: int, shifts, entries, bookable: bool) -> SafeString:
        html = self.slots(day=day, practitioner_id=practitioner_id, shifts=shifts, bookable=bookable)
        return mark_safe(html + "".join(self.block(entry, day, movable=bookable) for entry in entries))  # noqa: S308 - escaped above
