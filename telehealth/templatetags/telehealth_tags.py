"""What the appointment panel needs to tell the truth about its Zoom meetings (RELIABILITY.md 26)."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django import template
from django.utils import timezone

from telehealth import selectors
from telehealth.models import MeetingState, ZoomMeeting

register = template.Library()

# Seconds between the panel's htmx polls: quick while Zoom work is under way, slow while it waits to retry.
POLL_SOON = 3
POLL_LATER = 20
# Around a live meeting's time the panel asks every POLL_LIVE seconds for what Zoom's webhooks reported
# (client waiting, in progress, ended, changed or deleted in Zoom: issue 12).
POLL_LIVE = 10
LIVE_WINDOW = timedelta(hours=3)


@dataclass
class TelehealthStatus:
    deleting: list[ZoomMeeting] = field(default_factory=list)  # earlier meetings still to be deleted
    poll_seconds: int = 0  # 0: nothing under way, no polling


@register.simple_tag
def telehealth_status(appointment: Any) -> TelehealthStatus:
    """The appointment's other meetings still to be deleted, and how often the panel should ask again."""
    current: ZoomMeeting | None = appointment.zoom_meeting
    # scheduling.selectors.appointment_for_user says when there is none to look for (it is asked with the appointment).
    deleting = selectors.meetings_still_deleting(appointment_pk=appointment.pk,
                                                 exclude_pk=current.pk if current else None
                                                 ) if getattr(appointment, "may_have_meetings_deleting", True) else []
    # A row stopped for a person (no next attempt) will not change by itself: nothing to poll for.
    under_way = [m for m in [current, *deleting] if m is not None and m.is_pending
                 and not (m.needs_person and m.next_attempt_at is None)]
    if not under_way:
        return TelehealthStatus(deleting, POLL_LIVE if _around_its_time(current) else 0)
    waiting = all(m.last_error for m in under_way)
    return TelehealthStatus(deleting, POLL_LATER if waiting else POLL_SOON)


def _around_its_time(meeting: ZoomMeeting | None) -> bool:
    if meeting is None or meeting.state != MeetingState.ACTIVE:
        return False
    now = timezone.now()
    return meeting.starts_at - LIVE_WINDOW <= now <= meeting.starts_at + timedelta(minutes=meeting.duration) \
        + LIVE_WINDOW


@register.filter
def without_full_stop(value: str) -> str:
    """A reason as the middle of a sentence ("…: <reason>; retrying.")."""
    return (value or "").rstrip().rstrip(".")
