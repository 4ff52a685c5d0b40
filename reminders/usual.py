"""The usual reminders (R14, R15): admin-editable templates with {merge} fields.

Plain {name} substitution, not the Django template language, so an edited template cannot reach
anything but the fields below.
"""

import re
from datetime import datetime

from django.core.exceptions import ValidationError

from practice.models import Practice
from scheduling.models import Appointment

TELEHEALTH_LOCATION = "Telehealth (online)"
MERGE_FIELDS = {
    "first_name": "Client first name",
    "date": "Date (Mon 30 Nov)",
    "time": "Time (10:00)",
    "practitioner": "Practitioner",
    "location": "Location (“Telehealth (online)” for a telehealth location)",
    "location_address": "Location address (empty for a telehealth location)",
    "practice_name": "Practice name",
    "practice_phone": "Practice phone",
    "client_link": "Link to the client's page: confirm, cancel, join a video call, add to calendar",
}
DEFAULTS = {
    "sms": ("", "Hi {first_name}, a reminder of your appointment with {practitioner} on {date} at {time}, "
                "{location}. To change it call {practice_phone}. {practice_name}"),
    "email": ("Appointment reminder: {date} at {time}",
              "Hi {first_name},\n\nThis is a reminder of your appointment with {practitioner} on {date} at {time}.\n\n"
              "Where: {location}\n{location_address}\n\nIf you need to change it, please call us on {practice_phone}."
              "\n\n{practice_name}"),
}
FIELD = re.compile(r"\{(\w*)\}")


def validate_template(text: str) -> None:
    unknown = sorted({name for name in FIELD.findall(text) if name not in MERGE_FIELDS})
    if unknown:
        raise ValidationError("Unknown merge field: " + ", ".join("{" + name + "}" for name in unknown)
                              + ". Use: " + ", ".join("{" + name + "}" for name in MERGE_FIELDS))


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def render(text: str, values: dict[str, str]) -> str:
    return FIELD.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def uses_field(name: str, *texts: str) -> bool:
    return any(name in FIELD.findall(text) for text in texts)


def merge_values(appointment: Appointment, practice: Practice, *, client_link: str = "") -> dict[str, str]:
    """The fields' values; ``client_link`` is minted by the caller only when a template uses it."""
    starts: datetime = appointment.starts_at.astimezone(practice.zone)
    location = appointment.location
    client = appointment.client
    return {
        "first_name": client.preferred_name or client.first_name,
        "date": f"{starts:%a} {starts.day} {starts:%b}",
        "time": f"{starts:%H:%M}",
        "practitioner": appointment.practitioner.display_name,
        # R15: a telehealth location never prints a street address.
        "location": TELEHEALTH_LOCATION if location.is_telehealth else location.name,
        "location_address": "" if location.is_telehealth else location.address,
        "practice_name": practice.name,
        "practice_phone": practice.phone,
        "client_link": client_link,
    }


def tidy(text: str) -> str:
    """Drop the blank lines an empty field leaves behind (a telehealth location has no address)."""
    return re.sub(r"\n{3,}", "\n\n", normalise_newlines(text)).strip()
