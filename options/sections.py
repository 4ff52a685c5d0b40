"""The sections of Options, in the order of the side menu; each page lives in the app that owns its data."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    url_name: str
    blurb: str


SECTIONS = (
    Section("practice", "Practice", "options-practice", "Name, contact details, time zone and opening hours."),
    Section("locations", "Locations", "options-locations", "Where appointments happen; mark one Telehealth."),
    Section("practitioners", "Practitioners", "options-practitioners", "Profiles, colours and working hours."),
    Section("types", "Appointment types", "options-appointment-types", "Names, durations and colours."),
    Section("users", "Users and roles", "options-users", "Who can log in, with which role."),
    Section("calendar-feeds", "Calendar feeds", "options-calendar-feeds",
            "Which practitioners publish their diary to a calendar app; turn a feed off."),
    Section("zoom", "Zoom", "zoom-connections", "The practice's Zoom app and each practitioner's Zoom user."),
    Section("reminders", "Reminder settings", "reminder-settings", "Lead time, quiet hours, low-credit warning."),
    Section("templates", "Reminder templates", "reminder-templates", "The usual SMS and email reminders."),
    Section("credits", "SMS credits", "credits", "Balance and purchases."),
    Section("audit", "Audit trail", "options-audit", "Every change: who, when, what."),
)


def available_sections() -> list[tuple[Section, str]]:
    """Each section with its URL; a section whose page is not there yet is left out."""
    from django.urls import NoReverseMatch, reverse

    found = []
    for section in SECTIONS:
        try:
            found.append((section, reverse(section.url_name)))
        except NoReverseMatch:
            continue
    return found
