"""The diary grid's columns as HTML, built in Python because the template engine is the slow part.

A full day is ~1,000 empty-slot links and ~600 appointment blocks; through template loops that alone
costs more than the whole page budget. Every value from the database is escaped here; the rest are
numbers, dates and times formatted by this module.
"""

from dataclasses import dataclass
from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe

from scheduling.models import Status
from telehealth.models import MeetingState

SLOT_MINUTES = 15
# The Zoom badge on a telehealth block, by the meeting's state: (class, text, prefix of the hover reason).
ZOOM_BADGES = {
    MeetingState.ACTIVE: ("zoom", "Zoom", ""),
    MeetingState.PENDING_CREATE: ("warn", "Zoom pending", "pending: "),
    MeetingState.FAILED: ("bad", "Zoom failed", "failed: "),
}


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

    def block(self, entry, day: date) -> str:
        # Wall-clock minutes clamped to the day shown, so a daylight-saving day still lines up with its labels.
        start_min = entry.start.hour * 60 + entry.start.minute if entry.start.date() == day else 0
        end_min = entry.end.hour * 60 + entry.end.minute if entry.end.date() == day else 24 * 60
        end_min = max(end_min, start_min + 5)
        top = (start_min - self.first) / SLOT_MINUTES
        length = (end_min - start_min) / SLOT_MINUTES
        status = "" if entry.status == Status.BOOKED else f' <span class="st">{Status(entry.status).label}</span>'

        return (
            f'<a class="appt st-{escape(entry.status)}" href="{self.appointment_url}{entry.pk}/" '
            f'style="--top:{top};--len:{length};--type:{escape(entry.colour)}">'
            f'<span class="t">{entry.start:%H:%M}–{entry.end:%H:%M}</span> '
            f'<strong>{escape(entry.client_name)}</strong> <span class="ty">{escape(entry.type_name)}</span>'
            f'{status}<span class="badges">{self.badge(entry)}</span></a>'
        )

    @staticmethod
    def badge(entry) -> str:
        if not entry.is_telehealth:
            return ""
        css, text, prefix = ZOOM_BADGES.get(entry.zoom_state, ("bad", "No Zoom meeting", ""))
        title = f' title="{escape(prefix + entry.zoom_error)}"' if prefix and entry.zoom_error else ""
        return f'<span class="badge {css}"{title}>{text}</span>'


    def column(self, *, day: date, practitioner_id: int, shifts, entries, bookable: bool) -> SafeString:
        html = self.slots(day=day, practitioner_id=practitioner_id, shifts=shifts, bookable=bookable)
        return mark_safe(html + "".join(self.block(entry, day) for entry in entries))  # noqa: S308 - escaped above
