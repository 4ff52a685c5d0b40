"""The client's "Add to calendar" file: one event whose UID never changes and whose SEQUENCE rises with each
move, cancel and reinstate (Appointment.calendar_sequence), so a calendar app replaces its copy."""

from datetime import UTC, datetime
from typing import NamedTuple

from icalendar import Calendar, Event

from practice.models import Practice
from reminders.usual import TELEHEALTH_LOCATION
from scheduling.models import Appointment

PRODID = "-//Practice Diary//Client page//EN"


class Place(NamedTuple):
    online: bool
    name: str
    address: str  # empty when online


def client_place(appointment: Appointment) -> Place:
    """Where the client goes, as their page and calendar file say it. Online (a telehealth appointment, or one at a
    Telehealth location) is called what R15 calls a Telehealth location, and has no street address."""
    location = appointment.location
    if appointment.is_telehealth or location.is_telehealth:
        return Place(True, TELEHEALTH_LOCATION, "")
    return Place(False, location.name, location.address)


def appointment_ics(appointment: Appointment, practice: Practice, *, page_url: str, join_url: str,
                    now: datetime | None = None) -> bytes:
    """METHOD:PUBLISH for a booked appointment; METHOD:CANCEL with STATUS:CANCELLED once cancelled.

    Telehealth events carry our own join link (``join_url``), which follows the appointment's current Zoom
    meeting, never Zoom's link, which a move kills (R7). No client name, no notes: a calendar is often shared.
    """
    cancelled = appointment.is_cancelled
    practitioner = appointment.practitioner.display_name
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", appointment.calendar_uid)
    event.add("sequence", appointment.calendar_sequence)
    event.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", appointment.ends_at.astimezone(UTC))
    kind = "Telehealth appointment" if appointment.is_telehealth else "Appointment"
    event.add("summary", f"{kind} with {practitioner} ({practice.name})")
    lines = [f"{appointment.appointment_type.name} with {practitioner}."]
    place = client_place(appointment)
    event.add("location", ", ".join(part for part in (place.name, " ".join(place.address.split())) if part))
    if appointment.is_telehealth:
        lines.append(f"Join the video call: {join_url}")
    lines.append(f"Your appointment page: {page_url}")
    if practice.phone:
        lines.append(f"To change it, call {practice.name} on {practice.phone}.")
    event.add("description", "\n".join(lines))
    event.add("url", page_url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical()
