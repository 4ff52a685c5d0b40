"""The fixed telehealth messages (R11, R13): SMS, email and calendar file. Defined here, never configurable.

Pure: no database, no Django models, no template loader. Callers build a :class:`TelehealthDetails`.

The SMS always costs 2 credits (R12), so it is always GSM-7 and always fits in 2 segments: every inserted name is
transliterated to GSM-7 and shortened (or left out) as needed; the join link, meeting ID and passcode are never
altered. It carries the minimum about the client (RELIABILITY 22): the first word of the first name, nothing clinical.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.utils.html import escape
from icalendar import Calendar, Event

from reminders.segments import is_gsm7, sms_segments, to_gsm

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS_LONG = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")

SMS_MAX_SEGMENTS = 2
# Names are not cut shorter than this: the next, shorter layout is used instead.
_NAME_FLOOR = 12


@dataclass(frozen=True)
class TelehealthDetails:
    practice_name: str
    practice_phone: str
    practice_email: str
    client_first_name: str  # first (or preferred) name only
    practitioner_name: str
    starts_at: datetime  # aware
    ends_at: datetime  # aware
    time_zone: str  # IANA, e.g. "Australia/Sydney"
    join_url: str
    meeting_id: int
    passcode: str
    topic: str  # the Zoom topic (no client details in it)
    uid: str  # the appointment's calendar UID (Appointment.calendar_uid), the same in every .ics of it
    sequence: int = 0  # Appointment.calendar_sequence: raised by each move, cancel and reinstate


def format_meeting_id(meeting_id: int) -> str:
    """Zoom's grouping: 11 digits "853 4321 7788", 10 digits "123 456 7890"; anything else as is."""
    digits = str(meeting_id)
    if len(digits) == 11 and digits.isdigit():
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if len(digits) == 10 and digits.isdigit():
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return digits


# ---------------------------------------------------------------------------------------------------------------
# Dates and times, in the practice's zone, in English whatever the server locale.


def _local(details: TelehealthDetails, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Appointment times must be timezone-aware.")
    return moment.astimezone(ZoneInfo(details.time_zone))


def _zone_abbreviation(local: datetime) -> str:
    """"AEDT" / "AEST"; empty for zones whose only name is an offset ("+08")."""
    name = local.tzname() or ""
    return name if name.isalpha() else ""


def _zone_place(time_zone: str) -> str:
    """"Sydney time" for "Australia/Sydney"; the name itself for "UTC"."""
    if "/" not in time_zone:
        return time_zone
    return f"{time_zone.rsplit('/', 1)[-1].replace('_', ' ')} time"


def _short_date(local: datetime) -> str:
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"


def _long_date(local: datetime) -> str:
    return f"{_DAYS_LONG[local.weekday()]} {local.day} {_MONTHS_LONG[local.month - 1]} {local.year}"


def _clock(local: datetime) -> str:
    return f"{local:%H:%M}"


# ---------------------------------------------------------------------------------------------------------------
# SMS


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _sms_value(text: str) -> str:
    """An inserted name: GSM-7 only, on one line (the form feed is whitespace to str.split too)."""
    return _one_line(to_gsm(text))


def _truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, by whole words (a first word longer than that is cut); no ellipsis, and no
    dangling punctuation."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit + 1)
    cut = text[:space] if space > 0 else text[:limit]
    return cut.rstrip(" ,;:-&/+('\"")


def _fits(message: str) -> bool:
    info = sms_segments(message)
    return info.encoding == "GSM-7" and info.segments <= SMS_MAX_SEGMENTS


def _fit_names(render: Callable[..., str], names: Sequence[str]) -> str | None:
    """The message with the names as long as they can be (one shared cap, so the longest shrink first)."""
    message = render(*names)
    if _fits(message):
        return message
    longest = max((len(name) for name in names), default=0)
    if longest <= _NAME_FLOOR or not _fits(render(*(_truncate(name, _NAME_FLOOR) for name in names))):
        return None
    low, high = _NAME_FLOOR, longest - 1  # low always fits; find the largest cap that fits
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(render(*(_truncate(name, middle) for name in names))):
            low = middle
        else:
            high = middle - 1
    return render(*(_truncate(name, low) for name in names))


def _check_sms_safe(label: str, value: str) -> None:
    if not value.isascii() or not value.isprintable() or any(ch.isspace() for ch in value) or not is_gsm7(value):
        raise ValueError(f"The {label} cannot be sent unaltered in a GSM-7 SMS.")


def telehealth_sms(details: TelehealthDetails) -> str:
    """The fixed telehealth SMS: always GSM-7, always at most 2 segments (so exactly 2 credits, R12).

    Names are shortened, then left out (greeting, practitioner, practice, in that order) when the link is long;
    the join link, meeting ID and passcode are never altered. ``ValueError`` if even the bare minimum cannot fit
    (not possible for a valid Zoom link of up to 200 characters).
    """
    url, passcode = details.join_url, details.passcode
    if not url:
        raise ValueError("A telehealth SMS needs the join link.")
    _check_sms_safe("join link", url)
    if passcode:
        _check_sms_safe("passcode", passcode)
    if isinstance(details.meeting_id, bool) or not isinstance(details.meeting_id, int) or details.meeting_id <= 0:
        raise ValueError("The meeting ID must be a positive integer.")

    local = _local(details, details.starts_at)
    when = " ".join(filter(None, (_short_date(local), _clock(local), _sms_value(_zone_abbreviation(local)))))
    meeting = f"Meeting ID: {format_meeting_id(details.meeting_id)}"
    if passcode:
        meeting += f"\nPasscode: {passcode}"
    first_words = _sms_value(details.client_first_name).split(" ", 1)
    first = first_words[0]  # the first name at most (RELIABILITY 22), even if a full name was passed
    practitioner = _sms_value(details.practitioner_name)
    practice = _sms_value(details.practice_name)

    def full(first: str, practitioner: str, practice: str) -> str:
        greeting = f"Hi {first}," if first else "Hi,"
        with_ = f" with {practitioner}" if practitioner else ""
        at = f" at {practice}" if practice else ""
        return f"{greeting} your telehealth appointment{with_}{at} is {when}.\nJoin on Zoom: {url}\n{meeting}"

    def compact(practitioner: str, practice: str) -> str:
        head = f"{practice}: telehealth appointment" if practice else "Telehealth appointment"
        with_ = f" with {practitioner}," if practitioner else ""
        return f"{head}{with_} {when}\nJoin: {url}\n{meeting}"

    def bare() -> str:
        return f"Telehealth {when}\nJoin: {url}\n{meeting}"

    layouts: list[tuple[Callable[..., str], tuple[str, ...]]] = [
        (full, (first, practitioner, practice)),
        (full, ("", practitioner, practice)),
        (compact, (practitioner, practice)),
        (compact, ("", practice)),
        (compact, ("", "")),
        (bare, ()),
    ]
    for render, names in layouts:
        message = _fit_names(render, names)
        if message is not None:
            return message
    raise ValueError("The join link is too long for a 2-segment telehealth SMS.")


# ---------------------------------------------------------------------------------------------------------------
# Email

_HOW_TO_JOIN = (
    "You do not need a Zoom account.",
    "A few minutes before the appointment, open the join link. It opens the Zoom app if you have it, "
    "or Zoom in your web browser.",
    "On a phone or tablet, install the free Zoom app when you are asked, then tap the link again.",
    'If the link does not open, start Zoom, choose "Join" and enter the meeting ID and passcode.',
    "Please find a quiet, private place with a good internet connection.",
)


def _help_line(details: TelehealthDetails) -> tuple[str, str, str]:
    """(practice, phone, email) on one line each; any may be empty."""
    return _one_line(details.practice_name), _one_line(details.practice_phone), _one_line(details.practice_email)


def telehealth_email(details: TelehealthDetails) -> tuple[str, str, str]:
    """(subject, plain text body, HTML body) of the fixed telehealth email. Every inserted value is escaped in HTML."""
    start, end = _local(details, details.starts_at), _local(details, details.ends_at)
    practice, phone, email = _help_line(details)
    first = _one_line(details.client_first_name)
    practitioner = _one_line(details.practitioner_name)
    abbreviation = _zone_abbreviation(start)
    place = f"({_zone_place(details.time_zone)})"
    zone = f"{abbreviation} {place}" if abbreviation else place
    when = f"{_long_date(start)}, {_clock(start)} to {_clock(end)} {zone}"
    meeting_id = format_meeting_id(details.meeting_id)
    url, passcode = details.join_url, details.passcode

    subject = f"Your telehealth appointment on {_short_date(start)} at {_clock(start)}"
    if practice:
        subject += f" – {practice}"
    greeting = f"Hi {first}," if first else "Hello,"
    with_ = f" with {practitioner}" if practitioner else ""
    at = f" at {practice}" if practice else ""
    intro = f"Your telehealth (video) appointment{with_}{at} is on:"
    contacts = [part for part in (f"call {phone}" if phone else "", f"email {email}" if email else "") if part]
    help_text = f"Need help? Please {' or '.join(contacts)}." if contacts else ""

    text_lines = [greeting, "", intro, "", when, "", f"Join on Zoom: {url}", f"Meeting ID: {meeting_id}"]
    if passcode:
        text_lines.append(f"Passcode: {passcode}")
    text_lines += ["", "How to join"] + [f"- {step}" for step in _HOW_TO_JOIN]
    if help_text:
        text_lines += ["", help_text]
    if practice:
        text_lines += ["", practice]
    text = "\n".join(text_lines) + "\n"

    e = escape
    rows = [("Meeting ID", e(meeting_id))] + ([("Passcode", e(passcode))] if passcode else [])
    details_html = "".join(f'<p style="margin:0 0 4px">{label}: <strong>{value}</strong></p>' for label, value in rows)
    steps_html = "".join(f"<li>{e(step)}</li>" for step in _HOW_TO_JOIN)
    help_html = ""
    if contacts:
        links = []
        if phone:
            links.append(f"call {e(phone)}")
        if email:
            links.append(f'email <a href="mailto:{e(email)}">{e(email)}</a>')
        help_html = f"<p>Need help? Please {' or '.join(links)}.</p>"
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(subject)}</title></head>\n"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a">\n'
        f"<p>{e(greeting)}</p>\n"
        f"<p>{e(intro)}<br><strong>{e(when)}</strong></p>\n"
        f'<p><a href="{e(url)}" style="display:inline-block;padding:10px 18px;background:#0b5cff;color:#ffffff;'
        f'text-decoration:none;border-radius:6px">Join on Zoom</a></p>\n'
        f'<p style="margin:0 0 4px">Join link: <a href="{e(url)}">{e(url)}</a></p>\n'
        f"{details_html}\n"
        f"<h2 style=\"font-size:18px;margin:24px 0 8px\">How to join</h2>\n<ul>{steps_html}</ul>\n"
        f"{help_html}\n"
        + (f"<p>{e(practice)}</p>\n" if practice else "")
        + "</body></html>\n"
    )
    return subject, text, html


# ---------------------------------------------------------------------------------------------------------------
# Calendar file

_PRODID = "-//Practice Diary//Telehealth//EN"
_UID_SAFE = re.compile(r"^[\x21-\x7e]+$")


def telehealth_ics(details: TelehealthDetails, *, dtstamp: datetime | None = None) -> bytes:
    """An iCalendar file (METHOD:PUBLISH) with one VEVENT in UTC, carrying the join link, meeting ID and passcode."""
    start, end = _local(details, details.starts_at), _local(details, details.ends_at)
    if not _UID_SAFE.match(details.uid or ""):
        raise ValueError("The calendar UID must be printable ASCII without spaces.")
    practitioner = _one_line(details.practitioner_name)
    practice, phone, email = _help_line(details)
    meeting_id = format_meeting_id(details.meeting_id)

    lines = [f"Join on Zoom: {details.join_url}", f"Meeting ID: {meeting_id}"]
    if details.passcode:
        lines.append(f"Passcode: {details.passcode}")
    lines += ["", *_HOW_TO_JOIN]
    contacts = [part for part in (phone, email) if part]
    if contacts:
        lines += ["", f"Need help? {practice + ': ' if practice else ''}{' / '.join(contacts)}"]

    calendar = Calendar()
    calendar.add("prodid", _PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", details.uid)
    event.add("dtstamp", (dtstamp or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("summary", f"Telehealth appointment with {practitioner}" if practitioner else "Telehealth appointment")
    event.add("location", details.join_url)
    event.add("url", details.join_url)
    event.add("description", "\n".join(lines))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("sequence", details.sequence)
    calendar.add_component(event)
    return calendar.to_ical()
