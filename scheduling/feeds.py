"""Practitioners' calendar feeds (issue 11): a subscription link to one's own diary for Google, Apple or Outlook.

The link is ``/feeds/<token>.ics`` with a JWT (PyJWT, HS256) as the token. Its header names the signing key
("kid") so that keys can be rotated (settings.CALENDAR_FEED_KEYS: the first signs, every one listed verifies); its
claims are the practitioner and the feed's version, nothing else. Raising the version ("reset link", turning the
feed off) kills every link made before, without a list of revoked tokens.

Anyone holding the link reads the feed, and links leak (a shared calendar, a screenshot), so the feed says little:
time, type, location ("Telehealth" for a video consultation) and the client's initials, unless the practitioner
chose full names. No notes, phone numbers or Zoom links. Cancelled appointments are left out rather than sent as
STATUS:CANCELLED: a subscribed calendar re-reads the whole feed and drops the events that are gone.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Subquery
from icalendar import Calendar, Event

from practice import roles
from practice.audit import audit_record
from practice.errors import ApplicationError
from practice.models import Client, Practice, Practitioner
from scheduling.models import Appointment, CalendarFeed, Status

ALGORITHM = "HS256"
AUDIENCE = "calendar-feed"  # a token signed for something else with the same key is not a feed link
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash
WEEKS_BACK, WEEKS_AHEAD = 12, 26
REFRESH_EVERY = timedelta(minutes=15)  # a hint: each calendar app decides how often it really re-reads
TELEHEALTH = "Telehealth"
_PRODID = "-//Practice Diary//Calendar feed//EN"


# ---------------------------------------------------------------------------------------------------------------
# Keys and tokens

def feed_keys() -> dict[str, str]:
    """settings.CALENDAR_FEED_KEYS ("kid:secret" each) as {kid: secret}, in order: the first signs new links."""
    keys: dict[str, str] = {}
    for entry in settings.CALENDAR_FEED_KEYS:
        kid, colon, secret = str(entry).partition(":")
        kid, secret = kid.strip(), secret.strip()
        if not colon or not kid or not secret:
            raise ImproperlyConfigured("CALENDAR_FEED_KEYS: write each key as kid:secret, e.g. 2026a:<random text>.")
        if kid in keys:
            raise ImproperlyConfigured(f"CALENDAR_FEED_KEYS: the key id “{kid}” is listed twice.")
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ImproperlyConfigured(
                f"CALENDAR_FEED_KEYS: the secret of “{kid}” is shorter than {MIN_SECRET_BYTES} bytes.")
        keys[kid] = secret
    if not keys:
        raise ImproperlyConfigured("CALENDAR_FEED_KEYS is empty: give at least one kid:secret.")
    return keys


def feed_token(feed: CalendarFeed) -> str:
    """The token of the feed's current link, signed with the first key. The same feed and key give the same token,
    so the link the page shows stays the same until a reset or a key rotation."""
    kid, secret = next(iter(feed_keys().items()))
    claims = {"sub": str(feed.practitioner_id), "ver": feed.version, "aud": AUDIENCE}
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid})


def _verified_claims(token: str) -> tuple[int, int] | None:
    """(practitioner id, version) from a token signed by a key still listed; None for anything else."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        return None
    secret = feed_keys().get(kid) if isinstance(kid, str) else None
    if secret is None:
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                            options={"require": ["sub", "ver", "aud"]})
    except jwt.InvalidTokenError:
        return None
    subject, version = claims["sub"], claims["ver"]
    if not (isinstance(subject, str) and subject.isascii() and subject.isdigit() and len(subject) <= 18
            and type(version) is int):
        return None
    return int(subject), version


@dataclass(frozen=True)
class FeedOwner:
    feed: CalendarFeed
    practice_name: str

    @property
    def calendar_name(self) -> str:
        name = self.feed.practitioner.display_name
        return f"{name} — {self.practice_name}" if self.practice_name else name


def feed_for_token(token: str) -> FeedOwner | None:
    """The feed a link opens, in one query (the practice's name comes along as a subquery).

    None for a link that is forged or tampered with, signed with a key no longer listed, made before the last
    reset, or whose feed is off, or whose practitioner has left (inactive practitioner or login).
    """
    claims = _verified_claims(token)
    if claims is None:
        return None
    practitioner_id, version = claims
    feed = (
        CalendarFeed.objects.select_related("practitioner")
        .filter(practitioner_id=practitioner_id, version=version, is_enabled=True,
                practitioner__is_active=True, practitioner__user__is_active=True)
        .annotate(practice_name=Subquery(Practice.objects.filter(pk=1).values("name")[:1]))
        .first()
    )
    if feed is None:
        return None
    return FeedOwner(feed, getattr(feed, "practice_name", None) or "")


# ---------------------------------------------------------------------------------------------------------------
# Reads

def feed_of(practitioner: Practitioner) -> CalendarFeed:
    """The practitioner's feed, or an unsaved one that is off (a GET never writes)."""
    return CalendarFeed.objects.filter(practitioner=practitioner).first() or CalendarFeed(practitioner=practitioner)


def practitioner_of(user: User) -> Practitioner | None:
    """The diary a login owns, if any: only a practitioner has a feed."""
    return Practitioner.objects.filter(user=user).first()


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(weeks=WEEKS_BACK), now + timedelta(weeks=WEEKS_AHEAD)


def feed_appointments(*, practitioner_id: int, now: datetime) -> list[Appointment]:
    """The practitioner's appointments starting in the window, not cancelled: one query, reading only what the
    feed prints (never notes or contact details)."""
    start, end = feed_window(now)
    return list(
        Appointment.objects.filter(practitioner_id=practitioner_id, starts_at__gte=start, starts_at__lt=end)
        .exclude(status=Status.CANCELLED)
        .select_related("client", "appointment_type", "location")
        .only("starts_at", "ends_at", "is_telehealth", "calendar_sequence", "updated_at",
              "client__first_name", "client__last_name", "client__preferred_name",
              "appointment_type__name", "location__name", "location__address", "location__is_telehealth")
        .order_by("starts_at")
    )


# ---------------------------------------------------------------------------------------------------------------
# The calendar file

def client_initials(client: Client) -> str:
    """"C.K." for Casey Kelly (the preferred first name when there is one)."""
    names = (client.preferred_name or client.first_name, client.last_name)
    return "".join(f"{name.strip()[0].upper()}." for name in names if name.strip())


def event_summary(appointment: Appointment, *, full_names: bool) -> str:
    client = appointment.client
    who = client.full_name if full_names else client_initials(client)
    return f"{appointment.appointment_type.name} — {who}" if who else appointment.appointment_type.name


def event_location(appointment: Appointment) -> str:
    location = appointment.location
    if appointment.is_telehealth or location.is_telehealth:
        return TELEHEALTH
    address = ", ".join(line.strip() for line in location.address.splitlines() if line.strip())
    return f"{location.name}, {address}" if address else location.name


def feed_ics(*, calendar_name: str, appointments: Iterable[Appointment], full_names: bool) -> bytes:
    """The feed as an iCalendar file: one VEVENT per appointment, in UTC, with the appointment's UID and SEQUENCE.

    DTSTAMP and LAST-MODIFIED are the appointment's last change, not the time of the request, so an unchanged
    appointment reads the same on every refresh.
    """
    calendar = Calendar()
    calendar.add("prodid", _PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", calendar_name)
    calendar.add("x-wr-calname", calendar_name)
    calendar.add("refresh-interval", REFRESH_EVERY, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT15M")  # Outlook's older spelling of the same hint
    for appointment in appointments:
        changed = appointment.updated_at.astimezone(UTC)
        event = Event()
        event.add("uid", appointment.calendar_uid)
        event.add("sequence", appointment.calendar_sequence)
        event.add("dtstamp", changed)
        event.add("last-modified", changed)
        event.add("dtstart", appointment.starts_at.astimezone(UTC))
        event.add("dtend", appointment.ends_at.astimezone(UTC))
        event.add("summary", event_summary(appointment, full_names=full_names))
        event.add("location", event_location(appointment))
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        event.add("class", "PRIVATE")
        calendar.add_component(event)
    return calendar.to_ical()


# ---------------------------------------------------------------------------------------------------------------
# Writes: the practitioner manages their own feed; a practice admin may only turn one off.

def _ensure_own(actor: User, practitioner: Practitioner) -> None:
    if practitioner.user_id != actor.pk:
        raise ApplicationError(f"Only {practitioner} can change their calendar feed.", code="forbidden")


def _locked(practitioner: Practitioner) -> CalendarFeed:
    feed, _ = CalendarFeed.objects.get_or_create(practitioner=practitioner)
    return CalendarFeed.objects.select_related("practitioner").select_for_update().get(pk=feed.pk)


@transaction.atomic
def calendar_feed_enable(*, actor: User, practitioner: Practitioner) -> CalendarFeed:
    _ensure_own(actor, practitioner)
    if not practitioner.is_active:
        raise ApplicationError("An inactive practitioner has no calendar feed.", code="inactive")
    feed = _locked(practitioner)
    if feed.is_enabled:
        return feed
    feed.is_enabled = True
    feed.save(update_fields=["is_enabled", "updated_at"])
    audit_record(actor=actor, action="calendar_feed.enabled", obj=feed,
                 summary=f"Calendar feed of {practitioner} turned on", changes={"is_enabled": [False, True]})
    return feed


@transaction.atomic
def calendar_feed_disable(*, actor: User, practitioner: Practitioner) -> CalendarFeed:
    """Turn the feed off; its link dies for good (turning it on again makes a new one, so a link that leaked
    stays dead)."""
    if practitioner.user_id != actor.pk and not roles.is_practice_admin(actor):
        raise ApplicationError(f"Only {practitioner} or a practice admin can turn this calendar feed off.",
                               code="forbidden")
    feed = _locked(practitioner)
    if not feed.is_enabled:
        return feed
    feed.is_enabled = False
    feed.version += 1
    feed.save(update_fields=["is_enabled", "version", "updated_at"])
    audit_record(actor=actor, action="calendar_feed.disabled", obj=feed,
                 summary=f"Calendar feed of {practitioner} turned off", changes={"is_enabled": [True, False]})
    return feed


@transaction.atomic
def calendar_feed_reset(*, actor: User, practitioner: Practitioner) -> CalendarFeed:
    """A new link; the old one stops working at once (calendars subscribed to it must subscribe again)."""
    _ensure_own(actor, practitioner)
    feed = _locked(practitioner)
    if not feed.is_enabled:
        raise ApplicationError("Turn the calendar feed on first.", code="disabled")
    feed.version += 1
    feed.save(update_fields=["version", "updated_at"])
    audit_record(actor=actor, action="calendar_feed.reset", obj=feed,
                 summary=f"Calendar feed link of {practitioner} reset",
                 changes={"version": [feed.version - 1, feed.version]})
    return feed


@transaction.atomic
def calendar_feed_set_full_names(*, actor: User, practitioner: Practitioner, show_full_names: bool) -> CalendarFeed:
    _ensure_own(actor, practitioner)
    feed = _locked(practitioner)
    if feed.show_full_names == show_full_names:
        return feed
    feed.show_full_names = show_full_names
    feed.save(update_fields=["show_full_names", "updated_at"])
    audit_record(actor=actor, action="calendar_feed.changed", obj=feed,
                 summary=f"Calendar feed of {practitioner} shows {'full names' if show_full_names else 'initials'}",
                 changes={"show_full_names": [not show_full_names, show_full_names]})
    return feed


def feeds_for_options() -> list[tuple[Practitioner, CalendarFeed | None]]:
    """Options → Calendar feeds: every practitioner with their feed, if they ever had one (one query)."""
    practitioners = Practitioner.objects.select_related("calendar_feed").order_by("-is_active", "display_name")
    return [(practitioner, getattr(practitioner, "calendar_feed", None)) for practitioner in practitioners]
