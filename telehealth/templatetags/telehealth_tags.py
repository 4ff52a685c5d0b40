"""What the appointment panel needs to tell the truth about its Zoom meetings (RELIABILITY.md 26)."""

from dataclasses import dataclass, field
from typing import Any

from django import template

from telehealth import selectors
from telehealth.models import ZoomMeeting

register = template.Library()

# Seconds between the panel's htmx polls: quick while Zoom work is under way, slow while it waits to retry.
POLL_SOON = 3
POLL_LATER = 20


@dataclass
class TelehealthStatus:
    deleting: list[ZoomMeeting] = field(default_factory=list)  # earlier meetings still to be deleted
    poll_seconds: int = 0  # 0: nothing under way, no polling


@register.simple_tag
def telehealth_status(appointment: Any) -> TelehealthStatus:
    """The appointment's other meetings still to be deleted, and how often the panel should ask again."""
    current: ZoomMeeting | None = appointment.zoom_meeting
    deleting = selectors.meetings_still_deleting(appointment_pk=appointment.pk,
                                                 exclude_pk=current.pk if current else None)
    # A row stopped for a person (no next attempt) will not change by itself: nothing to poll for.
    under_way = [m for m in [current, *deleting] if m is not None and m.is_pending
                 and not (m.needs_person and m.next_attempt_at is None)]
    if not under_way:
        return TelehealthStatus(deleting)
    waiting = all(m.last_error for m in under_way)
    return TelehealthStatus(deleting, POLL_LATER if waiting else POLL_SOON)


@register.filter
def without_full_stop(value: str) -> str:
    """A reason as the middle of a sentence ("…: <reason>; retrying.")."""
    return (value or "").rstrip().rstrip(".")
