"""Booking rules: every change to an appointment goes through these functions.

Each service is atomic, writes one audit event and raises ApplicationError with a message the
front desk understands. Telehealth rides along: the appointment is saved first, its Zoom meeting is
recorded as a row to create or delete, and Zoom is called only after the transaction commits
(telehealth.services), so a Zoom failure never loses or half-changes an appointment.
"""

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from practice.audit import audit_record, field_changes
from practice.errors import ApplicationError
from practice.models import Client, Location, Practice, Practitioner, WorkingHours
from practice.services import client_create
from practice.timezones import local_to_aware
from scheduling.models import (
    APPOINTMENT_LONGEST,
    NO_OVERLAP_CONSTRAINT,
    SERIES_WEEKS_MAX,
    Appointment,
    AppointmentSeries,
    AppointmentType,
    ClientLink,
    ConfirmedVia,
    Status,
)
from scheduling.selectors import can_change_appointment
from telehealth import services as telehealth
from telehealth.models import MeetingState

# Statuses a person may set directly; cancelling has its own service because it frees the slot.
SETTABLE_STATUSES = (Status.BOOKED, Status.ARRIVED, Status.COMPLETED, Status.DID_NOT_ATTEND)


class TelehealthChange:
    """What a move did to the Zoom meeting, for the message after it (R7, R8)."""

    RECREATED = "recreated"
    REMOVED = "removed"


@dataclass(frozen=True)
class MoveValues:
    """Where and when an appointment was, so a move can be undone."""

    practitioner_id: int
    location_id: int
    starts_at: datetime
    ends_at: datetime
    is_telehealth: bool

    @classmethod
    def of(cls, appointment: Appointment) -> "MoveValues":
        return cls(appointment.practitioner_id, appointment.location_id, appointment.starts_at,
                   appointment.ends_at, appointment.is_telehealth)


@dataclass
class BookingResult:
    appointment: Appointment
    warnings: list[str] = field(default_factory=list)
    telehealth: str = ""  # a TelehealthChange value when the move changed the meeting
    previous: MoveValues | None = None  # where a move came from
    previous_status: str = ""  # the status a cancel changed, so it can be undone


def _describe(appointment: Appointment, zone) -> str:
    start = timezone.localtime(appointment.starts_at, zone)
    end = timezone.localtime(appointment.ends_at, zone)
    return f"{start:%a %d %b %H:%M}–{end:%H:%M}"


def _slot_clash(*, practitioner: Practitioner, starts_at: datetime, ends_at: datetime,
                exclude_pk: int | None) -> Appointment | None:
    """The practitioner's own booking overlapping this time, if any.

    The lower bound on starts_at keeps the index scan to the hours around, not the practitioner's whole history."""
    return (
        Appointment.objects.filter(practitioner=practitioner, starts_at__lt=ends_at,
                                   starts_at__gt=starts_at - APPOINTMENT_LONGEST, ends_at__gt=starts_at)
        .exclude(status=Status.CANCELLED)
        .exclude(pk=exclude_pk or 0)
        .first()
    )


def _ensure_slot_free(*, practitioner: Practitioner, starts_at: datetime, ends_at: datetime,
                      exclude_pk: int | None, zone) -> None:
    clash = _slot_clash(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, exclude_pk=exclude_pk)
    if clash is not None:
        raise ApplicationError(
            f"{practitioner} already has an appointment at {_describe(clash, zone)}. Choose another time.",
            code="conflict",
        )


# PostgreSQL's deadlock_detected and serialization_failure: when several transactions insert into the
# same slot at once, the exclusion constraint's checks can wait on each other and PostgreSQL aborts one.
LOST_RACE_SQLSTATES = ("40P01", "40001")


def _lost_race(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return NO_OVERLAP_CONSTRAINT in str(exc)
    return getattr(exc.__cause__, "sqlstate", None) in LOST_RACE_SQLSTATES


def _save_guarded(appointment: Appointment, *, practitioner: Practitioner, zone) -> None:
    """Save, turning a lost race for the slot into the same message as the service check.

    The check above the save is what SQLite relies on (its IMMEDIATE transactions serialise writers);
    on PostgreSQL two transactions can both pass the check, and the constraint refuses the second, or,
    with several racing, aborts one of them as a deadlock (RELIABILITY.md 24).
    """
    try:
        with transaction.atomic():
            appointment.save()
    except (IntegrityError, OperationalError) as exc:
        if _lost_race(exc):
            raise ApplicationError(
                f"{practitioner} was booked at that time by someone else a moment ago. Choose another time.",
                code="conflict",
            ) from exc
        raise


def _working_hours_warnings(*, practitioner: Practitioner, starts_at: datetime, ends_at: datetime,
                            zone) -> list[str]:
    start = timezone.localtime(starts_at, zone)
    end = timezone.localtime(ends_at, zone)
    shifts = WorkingHours.objects.filter(practitioner=practitioner, weekday=start.weekday())
    inside = any(
        shift.starts_at <= start.time() and (end.date() == start.date() and end.time() <= shift.ends_at)
        for shift in shifts
    )
    if inside:
        return []
    return [f"This is outside {practitioner}'s working hours."]


def ends_after(starts_at: datetime, minutes: int) -> datetime:
    """The end of an appointment lasting ``minutes`` of real time.

    Added in UTC: Python adds to an aware local datetime on the wall clock, so a 90-minute booking
    across the October change would last 30 real minutes (RELIABILITY.md 23).
    """
    return starts_at.astimezone(UTC) + timedelta(minutes=minutes)


def _validate_times(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    """Both times in UTC, checked: differences of datetimes sharing a local zone ignore the DST hour."""
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValueError("Appointment times must be timezone-aware.")
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    if ends_at <= starts_at:
        raise ApplicationError("The appointment must end after it starts.", code="invalid_time")
    if ends_at - starts_at > APPOINTMENT_LONGEST:
        raise ApplicationError("An appointment cannot be longer than 12 hours.", code="invalid_time")
    return starts_at, ends_at


def _validate_active(*, practitioner: Practitioner, location: Location) -> None:
    if not practitioner.is_active:
        raise ApplicationError(f"{practitioner} is no longer active and cannot take bookings.", code="inactive")
    if not location.is_active:
        raise ApplicationError(f"The location {location} is no longer in use.", code="inactive")


def _validate_type_offered(appointment_type: AppointmentType) -> None:
    if not appointment_type.is_active:
        raise ApplicationError(f"The appointment type {appointment_type} is no longer offered.", code="inactive")


@transaction.atomic
def appointment_book(
    *,
    actor: User,
    client: Client | None,
    practitioner: Practitioner,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    ends_at: datetime | None = None,
    notes: str = "",
    new_client: dict | None = None,
    is_telehealth: bool = False,
    series: AppointmentSeries | None = None,
) -> BookingResult:
    """Book ``client``, or first add ``new_client`` (the quick-add fields); both or neither are saved.

    ``series`` ties the appointment to a repeat booked by series_book, which books every date through here.
    """
    zone = Practice.load().zone
    if ends_at is None:
        ends_at = ends_after(starts_at, appointment_type.default_duration)
    starts_at, ends_at = _validate_times(starts_at, ends_at)
    _validate_active(practitioner=practitioner, location=location)
    _validate_type_offered(appointment_type)
    _ensure_slot_free(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, exclude_pk=None, zone=zone)
    if client is None:
        if not new_client:
            raise ApplicationError("Choose a client, or add a new one.", code="no_client")
        client = client_create(actor=actor, **new_client)
    appointment = Appointment(
        client=client, practitioner=practitioner, location=location, appointment_type=appointment_type,
        starts_at=starts_at, ends_at=ends_at, notes=notes, created_by=actor, updated_by=actor, series=series,
    )
    if is_telehealth:
        _plan_telehealth(appointment, zone=zone)
    _save_guarded(appointment, practitioner=practitioner, zone=zone)
    audit_record(
        actor=actor, action="appointment.booked", obj=appointment,
        summary=f"Booked with {practitioner} at {_describe(appointment, zone)}",
        changes={"practitioner": practitioner.pk, "location": location.pk, "type": appointment_type.pk,
                 "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "telehealth": is_telehealth,
                 **({"series": series.pk} if series is not None else {})},
    )
    return BookingResult(appointment, _working_hours_warnings(
        practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, zone=zone))


# What a move does to telehealth, said before it is saved (the preview) in the words of R7 and R8.
R7_CONSEQUENCE = "The Zoom meeting will be re-created; the old link, meeting ID and passcode stop working."
R8_CONSEQUENCE = ("Telehealth will be removed: the Zoom meeting is deleted and Telehealth unticked. The client is "
                  "not notified.")


@dataclass(frozen=True)
class MovePlan:
    """A move checked against every rule, and what saving it will do; nothing is written to make it."""

    starts_at: datetime
    ends_at: datetime
    practitioner: Practitioner
    location: Location  # may differ from the one asked for (R8)
    telehealth: str = ""  # a TelehealthChange value
    warnings: tuple[str, ...] = ()
    unchanged: bool = False


def _move_plan(*, appointment: Appointment, starts_at: datetime, ends_at: datetime, practitioner: Practitioner,
               location: Location, zone) -> MovePlan:
    """The rules of a move, shared by the move and its preview: raises ApplicationError when it is refused."""
    if appointment.is_cancelled:
        raise ApplicationError("A cancelled appointment cannot be moved. Reinstate it first.", code="cancelled")
    starts_at, ends_at = _validate_times(starts_at, ends_at)
    _validate_active(practitioner=practitioner, location=location)
    if (practitioner.pk, location.pk, starts_at, ends_at) == (
            appointment.practitioner_id, appointment.location_id, appointment.starts_at, appointment.ends_at):
        return MovePlan(starts_at, ends_at, practitioner, location, unchanged=True)
    _ensure_slot_free(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at,
                      exclude_pk=appointment.pk, zone=zone)
    other_practitioner = practitioner.pk != appointment.practitioner_id
    new_time = (starts_at, ends_at) != (appointment.starts_at, appointment.ends_at)
    telehealth_change = ""
    if appointment.is_telehealth and other_practitioner:
        # R8: telehealth does not follow an appointment to another practitioner.
        telehealth_change = TelehealthChange.REMOVED
        home = practitioner.default_location
        if location.is_telehealth and home is not None and home.is_active and not home.is_telehealth:
            # A Telehealth location without a meeting would tell the client to expect a video call.
            location = home
    elif appointment.is_telehealth and new_time:
        # R7: Zoom's meeting is deleted and a new one made for the new time, so that one must be possible.
        _check_telehealth(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at,
                          exclude_pk=appointment.pk, zone=zone, replacing=True)
        telehealth_change = TelehealthChange.RECREATED
    warnings = _working_hours_warnings(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, zone=zone)
    return MovePlan(starts_at, ends_at, practitioner, location, telehealth_change, tuple(warnings))


@dataclass(frozen=True)
class MovePreview:
    """What a proposed move would do, for the person to confirm: refusals, warnings and consequences."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    consequences: tuple[str, ...] = ()
    unchanged: bool = False

    @property
    def allowed(self) -> bool:
        return not self.errors and not self.unchanged


def appointment_move_preview(*, appointment: Appointment, starts_at: datetime, ends_at: datetime,
                             practitioner: Practitioner, location: Location) -> MovePreview:
    """The consequences of ``appointment_move`` with these values, without saving anything."""
    try:
        plan = _move_plan(appointment=appointment, starts_at=starts_at, ends_at=ends_at,
                          practitioner=practitioner, location=location, zone=Practice.load().zone)
    except ApplicationError as exc:
        return MovePreview(errors=(exc.message,))
    if plan.unchanged:
        return MovePreview(unchanged=True)
    consequences = []
    if plan.telehealth == TelehealthChange.RECREATED:
        consequences.append(R7_CONSEQUENCE)
    elif plan.telehealth == TelehealthChange.REMOVED:
        consequences.append(R8_CONSEQUENCE)
    if plan.location.pk != appointment.location_id:
        consequences.append(f"The location changes from {appointment.location} to {plan.location}.")
    return MovePreview(warnings=plan.warnings, consequences=tuple(consequences))


@transaction.atomic
def appointment_move(
    *,
    actor: User,
    appointment: Appointment,
    starts_at: datetime,
    ends_at: datetime,
    practitioner: Practitioner,
    location: Location,
) -> BookingResult:
    zone = Practice.load().zone
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    plan = _move_plan(appointment=appointment, starts_at=starts_at, ends_at=ends_at, practitioner=practitioner,
                      location=location, zone=zone)
    if plan.unchanged:
        return BookingResult(appointment)
    previous = MoveValues.of(appointment)
    before = {"practitioner": appointment.practitioner_id, "location": appointment.location_id,
              "starts_at": appointment.starts_at.isoformat(), "ends_at": appointment.ends_at.isoformat()}
    after = {"practitioner": practitioner.pk, "location": location.pk,
             "starts_at": plan.starts_at.isoformat(), "ends_at": plan.ends_at.isoformat()}
    appointment.practitioner = practitioner
    appointment.location = plan.location
    appointment.starts_at = plan.starts_at
    appointment.ends_at = plan.ends_at
    appointment.updated_by = actor
    if plan.starts_at != previous.starts_at or practitioner.pk != previous.practitioner_id:
        # The client confirmed the old time or practitioner, not this one.
        appointment.confirmed_at, appointment.confirmed_via = None, ""
    appointment.calendar_sequence += 1
    if plan.telehealth == TelehealthChange.REMOVED:
        _drop_telehealth(appointment)
    elif plan.telehealth == TelehealthChange.RECREATED:
        if appointment.zoom_meeting is not None:
            telehealth.meeting_discard(meeting=appointment.zoom_meeting)
        _plan_telehealth(appointment, zone=zone, replacing=True)
    _save_guarded(appointment, practitioner=practitioner, zone=zone)
    audit_record(
        actor=actor, action="appointment.moved", obj=appointment,
        summary=f"Moved to {practitioner} at {_describe(appointment, zone)}",
        changes={**{key: [before[key], after[key]] for key in after if before[key] != after[key]},
                 **({"telehealth": plan.telehealth} if plan.telehealth else {})},
    )
    return BookingResult(appointment, list(plan.warnings), telehealth=plan.telehealth, previous=previous)


@transaction.atomic
def appointment_set_status(*, actor: User, appointment: Appointment, status: str) -> Appointment:
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if status not in SETTABLE_STATUSES:
        raise ApplicationError("Choose booked, arrived, completed or did not attend.", code="invalid_status")
    if appointment.is_cancelled:
        raise ApplicationError("This appointment is cancelled. Reinstate it first.", code="cancelled")
    if appointment.status == status:
        return appointment
    previous = appointment.status
    appointment.status = status
    appointment.updated_by = actor
    appointment.save(update_fields=["status", "updated_by", "updated_at"])
    audit_record(actor=actor, action="appointment.status_changed", obj=appointment,
                 summary=f"Status {Status(previous).label} → {Status(status).label}",
                 changes={"status": [previous, status]})
    return appointment


@transaction.atomic
def appointment_cancel(*, actor: User | None, appointment: Appointment, reason: str = "",
                       actor_label: str = "") -> Appointment:
    """Cancel and free the slot. ``actor`` is None when the client cancels (``actor_label`` says how)."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.is_cancelled:
        raise ApplicationError("This appointment is already cancelled.", code="cancelled")
    previous = appointment.status
    appointment.status = Status.CANCELLED
    appointment.updated_by = actor
    appointment.calendar_sequence += 1
    appointment.save(update_fields=["status", "updated_by", "calendar_sequence", "updated_at"])
    if appointment.zoom_meeting is not None:
        telehealth.meeting_discard(meeting=appointment.zoom_meeting)  # R10: no orphan meetings
    audit_record(actor=actor, actor_label=actor_label, action="appointment.cancelled", obj=appointment,
                 summary="Cancelled" + (f": {reason[:200]}" if reason else ""),
                 changes={"status": [previous, Status.CANCELLED]})
    return appointment


@transaction.atomic
def appointment_confirm(*, appointment: Appointment, via: str, actor: User | None = None) -> Appointment:
    """Mark the appointment confirmed (the client's page, an SMS "Y", or the desk for the client).

    Confirming twice changes nothing; a cancelled or past appointment can't be confirmed, and the client confirms
    only a booked one (``client_may_confirm``, which their page shows the button by).
    """
    via = ConfirmedVia(via)
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.is_cancelled:
        raise ApplicationError("This appointment is cancelled.", code="cancelled")
    if appointment.ends_at <= timezone.now():
        raise ApplicationError("This appointment is over.", code="past")
    if via != ConfirmedVia.STAFF and not client_may_confirm(appointment):
        raise ApplicationError(f"This appointment is marked “{appointment.get_status_display()}”.",
                               code="not_booked")
    if appointment.confirmed_at is not None:
        return appointment
    appointment.confirmed_at, appointment.confirmed_via = timezone.now(), via
    appointment.save(update_fields=["confirmed_at", "confirmed_via", "updated_at"])
    audit_record(actor=actor, actor_label="" if actor is not None else via.label,
                 action="appointment.confirmed", obj=appointment, summary=f"Confirmed by {via.label}",
                 changes={"confirmed_via": via.value})
    return appointment


# The client's page (/c/<code>, issue 11) ------------------------------------------------------------------------

# 13 base32 characters = 65 random bits: unguessable, short in an SMS, unambiguous when read aloud.
CLIENT_LINK_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
CLIENT_LINK_LENGTH = 13
CLIENT_LINK_VALID_AFTER_END = timedelta(days=1)
CLIENT_LINK_ACTOR = ConfirmedVia.CLIENT_LINK.label  # "client (link)" in the audit trail


def _client_link_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def client_link_url(code: str) -> str:
    """The absolute URL of a code's page; every link has the same length (the SMS preview counts on it)."""
    return f"{settings.PUBLIC_BASE_URL or settings.DEV_BASE_URL}/c/{code}"


def client_link_sample_url() -> str:
    """A URL exactly as long as a minted one, for previews and credit counts."""
    return client_link_url("x" * CLIENT_LINK_LENGTH)


def client_link_mint(appointment: Appointment) -> str:
    """A new link to the appointment's page (one per message; the code itself is never stored)."""
    code = "".join(secrets.choice(CLIENT_LINK_ALPHABET) for _ in range(CLIENT_LINK_LENGTH))
    ClientLink.objects.create(appointment=appointment, code_hash=_client_link_hash(code))
    return client_link_url(code)


def client_link_find(code: str) -> Appointment | None:
    """The appointment a code opens, or None when the code is unknown, malformed or expired.

    Expiry follows the appointment: a link works until a day after its *current* end, so a move keeps it alive.
    """
    code = code.strip().lower()
    if len(code) != CLIENT_LINK_LENGTH or any(char not in CLIENT_LINK_ALPHABET for char in code):
        return None
    link = (ClientLink.objects.filter(code_hash=_client_link_hash(code))
            .select_related("appointment__client", "appointment__practitioner", "appointment__location",
                            "appointment__appointment_type", "appointment__zoom_meeting").first())
    if link is None or link.appointment.ends_at + CLIENT_LINK_VALID_AFTER_END <= timezone.now():
        return None
    return link.appointment


def client_cancel_deadline(appointment: Appointment, practice: Practice) -> datetime:
    """Until when the client may cancel from the page (the notice window set under Options → Practice)."""
    return appointment.starts_at - timedelta(hours=practice.client_cancel_notice_hours)


# What the client may do themselves: the services below refuse anything else, and the client's page offers only
# these (one rule for both).

def client_may_confirm(appointment: Appointment, *, now: datetime | None = None) -> bool:
    """A booked appointment that is not over (from the client's page, or an SMS "Y")."""
    return appointment.status == Status.BOOKED and appointment.ends_at > (now or timezone.now())


def client_may_cancel(appointment: Appointment, practice: Practice, *, now: datetime | None = None) -> bool:
    """A booked appointment, before the notice window (from the client's page)."""
    return appointment.status == Status.BOOKED and (now or timezone.now()) < client_cancel_deadline(appointment,
                                                                                                      practice)


# The client's page offers "Join video call" from a quarter of an hour before the start until the end.
CLIENT_JOIN_OPENS_BEFORE = timedelta(minutes=15)


@dataclass(frozen=True)
class ClientJoin:
    """Whether the client can join the video call now: "live", "early", "over" or "none" (no current meeting: R8,
    R9, cancelled, or a meeting Zoom has not made yet)."""

    state: str
    opens_at: datetime | None = None


def client_join_state(appointment: Appointment, *, now: datetime | None = None) -> ClientJoin:
    """Always the appointment's *current* meeting, so a link sent before a move (R7) still joins."""
    now = now or timezone.now()
    meeting = appointment.zoom_meeting if appointment.is_telehealth else None
    if appointment.status not in (Status.BOOKED, Status.ARRIVED) or meeting is None \
            or meeting.state != MeetingState.ACTIVE or not meeting.join_url:
        return ClientJoin("none")
    opens_at = appointment.starts_at - CLIENT_JOIN_OPENS_BEFORE
    if now >= appointment.ends_at:
        return ClientJoin("over")
    if now < opens_at:
        return ClientJoin("early", opens_at)
    return ClientJoin("live", opens_at)


@transaction.atomic
def appointment_cancel_by_client(*, appointment: Appointment) -> Appointment:
    """The client cancels from their page: only outside the notice window; the desk sees it in Needs attention."""
    practice = Practice.load()
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if locked.is_cancelled:
        raise ApplicationError("This appointment is already cancelled.", code="cancelled")
    if not client_may_cancel(locked, practice):
        raise ApplicationError("It is too late to cancel online.", code="notice_window")
    cancelled = appointment_cancel(actor=None, actor_label=CLIENT_LINK_ACTOR, appointment=locked)
    cancelled.client_cancel_unseen_since = timezone.now()
    cancelled.save(update_fields=["client_cancel_unseen_since"])
    return cancelled


@transaction.atomic
def client_cancel_acknowledge(*, actor: User, appointment: Appointment) -> Appointment:
    """The desk has seen a client's cancel (off Needs attention); the audit trail keeps the cancel itself."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.client_cancel_unseen_since is None:
        return appointment
    appointment.client_cancel_unseen_since = None
    appointment.save(update_fields=["client_cancel_unseen_since"])
    audit_record(actor=actor, action="appointment.client_cancel_seen", obj=appointment,
                 summary="Client's cancellation marked seen")
    return appointment


@transaction.atomic
def appointment_reinstate(*, actor: User, appointment: Appointment) -> BookingResult:
    zone = Practice.load().zone
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if not appointment.is_cancelled:
        raise ApplicationError("Only a cancelled appointment can be reinstated.", code="not_cancelled")
    _ensure_slot_free(practitioner=appointment.practitioner, starts_at=appointment.starts_at,
                      ends_at=appointment.ends_at, exclude_pk=appointment.pk, zone=zone)
    appointment.status = Status.BOOKED
    appointment.updated_by = actor
    appointment.calendar_sequence += 1
    appointment.client_cancel_unseen_since = None  # the desk has acted on the client's cancel
    _save_guarded(appointment, practitioner=appointment.practitioner, zone=zone)
    audit_record(actor=actor, action="appointment.reinstated", obj=appointment, summary="Reinstated",
                 changes={"status": [Status.CANCELLED, Status.BOOKED]})
    return BookingResult(appointment)


def _check_telehealth(*, practitioner: Practitioner, starts_at: datetime, ends_at: datetime,
                      exclude_pk: int | None, zone, replacing: bool = False) -> None:
    """Whether a Zoom meeting can be made for this time (R6, R3), without making one."""
    telehealth.meeting_check(practitioner=practitioner, starts_at=starts_at, replacing=replacing)
    connection = getattr(practitioner, "zoom_connection", None)
    if connection is not None and connection.is_basic:
        _ensure_zoom_user_free(host_user=connection.zoom_user, starts_at=starts_at, ends_at=ends_at,
                               exclude_pk=exclude_pk, zone=zone)


def _plan_telehealth(appointment: Appointment, *, zone, replacing: bool = False) -> None:
    """Give the (unsaved or changing) appointment a new Zoom meeting to create after commit (R5, R6, R3)."""
    _check_telehealth(practitioner=appointment.practitioner, starts_at=appointment.starts_at,
                      ends_at=appointment.ends_at, exclude_pk=appointment.pk, zone=zone, replacing=replacing)
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    appointment.zoom_meeting = telehealth.meeting_plan(practitioner=appointment.practitioner,
                                                       starts_at=appointment.starts_at, duration=minutes,
                                                       replacing=replacing)
    appointment.is_telehealth = True


def _zoom_user_clash(*, host_user: str, starts_at: datetime, ends_at: datetime,
                     exclude_pk: int | None) -> Appointment | None:
    """R3: the telehealth appointment already using this Zoom user at this time, if any."""
    return (
        Appointment.objects.filter(is_telehealth=True, zoom_meeting__host_user__iexact=host_user,
                                   zoom_meeting__state__in=(MeetingState.PENDING_CREATE, MeetingState.ACTIVE),
                                   starts_at__lt=ends_at, ends_at__gt=starts_at)
        .exclude(status=Status.CANCELLED)
        .exclude(pk=exclude_pk or 0)
        .select_related("practitioner")
        .first()
    )


def _ensure_zoom_user_free(*, host_user: str, starts_at: datetime, ends_at: datetime, exclude_pk: int | None,
                           zone) -> None:
    """R3: a Basic Zoom user runs one meeting at a time, also when colleagues share that Zoom user."""
    clash = _zoom_user_clash(host_user=host_user, starts_at=starts_at, ends_at=ends_at, exclude_pk=exclude_pk)
    if clash is not None:
        raise ApplicationError(
            f"The Zoom user {host_user} is on a Basic plan, which runs one meeting at a time, and already has "
            f"the telehealth appointment with {clash.practitioner} at {_describe(clash, zone)}.",
            code="zoom_basic_overlap",
        )


def _drop_telehealth(appointment: Appointment) -> None:
    if appointment.zoom_meeting is not None:
        telehealth.meeting_discard(meeting=appointment.zoom_meeting)
    appointment.zoom_meeting = None
    appointment.is_telehealth = False


@transaction.atomic
def appointment_telehealth_add(*, actor: User, appointment: Appointment) -> Appointment:
    """Tick Telehealth on a booked appointment, or make a new meeting after a failure or a reinstatement."""
    zone = Practice.load().zone
    # Lock the appointment row only: PostgreSQL can't lock the nullable side of the join to the meeting.
    appointment = Appointment.objects.select_for_update(of=("self",)).select_related(
        "zoom_meeting", "practitioner").get(pk=appointment.pk)
    if appointment.is_cancelled:
        raise ApplicationError("A cancelled appointment cannot have a Zoom meeting. Reinstate it first.",
                               code="cancelled")
    if appointment.zoom_meeting is not None and appointment.zoom_meeting.is_live:
        raise ApplicationError("This appointment already has a Zoom meeting.", code="has_meeting")
    if appointment.zoom_meeting is not None:
        telehealth.meeting_discard(meeting=appointment.zoom_meeting)
    _plan_telehealth(appointment, zone=zone)
    appointment.updated_by = actor
    appointment.save(update_fields=["is_telehealth", "zoom_meeting", "updated_by", "updated_at"])
    audit_record(actor=actor, action="appointment.telehealth_added", obj=appointment,
                 summary="Telehealth ticked: Zoom meeting requested")
    return appointment


@transaction.atomic
def appointment_telehealth_remove(*, actor: User, appointment: Appointment) -> Appointment:
    """Delete Telehealth (R9): the Zoom meeting goes; the appointment stays booked; nothing is sent (R16)."""
    appointment = Appointment.objects.select_for_update(of=("self",)).select_related("zoom_meeting").get(
        pk=appointment.pk)
    if not appointment.is_telehealth:
        raise ApplicationError("This appointment is not a telehealth appointment.", code="not_telehealth")
    _drop_telehealth(appointment)
    appointment.updated_by = actor
    appointment.save(update_fields=["is_telehealth", "zoom_meeting", "updated_by", "updated_at"])
    audit_record(actor=actor, action="appointment.telehealth_removed", obj=appointment,
                 summary="Telehealth deleted: Zoom meeting removed, appointment kept, client not notified")
    return appointment


# Undo ---------------------------------------------------------------------------------------------------------
# After a move, a resize or a cancel the person who made it is offered Undo for a few seconds. The offer is a
# token signed with the project's secret: it names the user, the appointment, the values to go back to and the
# appointment's updated_at just after the change, so it cannot be forged, used by someone else, used late, or
# used once anything has changed the appointment since (including the undo itself). Undo goes through the same
# services as any other change: moving back re-creates a Zoom meeting (R7) just as moving there did.

UNDO_SECONDS = 10  # how long the Undo button is shown
UNDO_GRACE_SECONDS = 5  # and the server accepts it a little longer: the page with the button takes time to load
UNDO_SALT = "scheduling.undo"


@dataclass(frozen=True)
class UndoOffer:
    token: str
    text: str  # what Undo will do, the Zoom meeting included


def _undo_token(*, actor: User, appointment: Appointment, kind: str, **values) -> str:
    return signing.dumps({"kind": kind, "user": actor.pk, "appointment": appointment.pk,
                          "stamp": appointment.updated_at.isoformat(), **values}, salt=UNDO_SALT, compress=True)


def undo_offer_move(*, actor: User, result: BookingResult) -> UndoOffer | None:
    """The Undo for a move that was saved (None when the move changed nothing)."""
    previous, appointment = result.previous, result.appointment
    if previous is None:
        return None
    zone = Practice.load().zone
    was = Appointment(starts_at=previous.starts_at, ends_at=previous.ends_at)
    back = f"back to {_describe(was, zone)}"
    if previous.practitioner_id != appointment.practitioner_id:
        back += f" with {Practitioner.objects.get(pk=previous.practitioner_id)}"
    if result.telehealth == TelehealthChange.RECREATED:
        text = f"Undo moves it {back} and creates another new Zoom meeting; this one stops working."
    elif result.telehealth == TelehealthChange.REMOVED:
        text = f"Undo moves it {back} and makes it telehealth again with a new Zoom meeting (the old one is gone)."
    else:
        text = f"Undo moves it {back}."
    token = _undo_token(actor=actor, appointment=appointment, kind="move",
                        practitioner=previous.practitioner_id, location=previous.location_id,
                        starts_at=previous.starts_at.isoformat(), ends_at=previous.ends_at.isoformat(),
                        telehealth=previous.is_telehealth)
    return UndoOffer(token, text)


def undo_offer_cancel(*, actor: User, appointment: Appointment, previous_status: str) -> UndoOffer:
    """The Undo for a cancellation: reinstate, with the status it had and, for telehealth, a new meeting."""
    if appointment.is_telehealth:
        text = "Undo reinstates it and creates a new Zoom meeting (the cancellation deleted the old one)."
    else:
        text = "Undo reinstates it."
    token = _undo_token(actor=actor, appointment=appointment, kind="cancel", status=previous_status)
    return UndoOffer(token, text)


@dataclass
class UndoResult:
    appointment: Appointment  # for a series, the earliest of those put back
    message: str
    moved: BookingResult | None = None  # the move back, for its working-hours and R7 messages
    telehealth_restored: bool = False
    warnings: list[str] = field(default_factory=list)  # beyond the move's own
    series_moved: list[BookingResult] = field(default_factory=list)  # each move back of a series, likewise


def _undo_load(token: str) -> dict:
    try:
        data = signing.loads(token, salt=UNDO_SALT, max_age=UNDO_SECONDS + UNDO_GRACE_SECONDS)
    except signing.SignatureExpired:
        raise ApplicationError("Too late to undo: Undo is offered for a few seconds only. Change the appointment "
                               "itself instead.", code="undo_expired") from None
    except signing.BadSignature:
        raise ApplicationError("This Undo is not valid.", code="undo_invalid") from None
    if not isinstance(data, dict) or data.get("kind") not in ("move", "cancel", "series_move", "series_cancel"):
        raise ApplicationError("This Undo is not valid.", code="undo_invalid")
    return data


@transaction.atomic
def appointment_undo(*, actor: User, token: str) -> UndoResult:
    """Put an appointment back as it was before a move or a cancel that ``actor`` made moments ago (or every
    appointment of a series' "this and following" move or cancel)."""
    data = _undo_load(token)
    if data["user"] != actor.pk:
        raise ApplicationError("Only the person who made this change can undo it.", code="undo_not_yours")
    if data["kind"] in ("series_move", "series_cancel"):
        return _series_undo(actor=actor, data=data)
    appointment = Appointment.objects.select_for_update().filter(pk=data["appointment"]).first()
    if appointment is None:
        raise ApplicationError("This appointment no longer exists.", code="undo_gone")
    if appointment.updated_at.isoformat() != data["stamp"]:
        raise ApplicationError("The appointment has changed since, so Undo would overwrite that change. Open the "
                               "appointment to change it.", code="undo_changed")
    warnings: list[str] = []
    moved = None
    if data["kind"] == "move":
        practitioner = Practitioner.objects.filter(pk=data["practitioner"]).first()
        location = Location.objects.filter(pk=data["location"]).first()
        if practitioner is None or location is None:
            raise ApplicationError("The practitioner or location it was with no longer exists.", code="undo_gone")
        moved = appointment_move(
            actor=actor, appointment=appointment, practitioner=practitioner, location=location,
            starts_at=datetime.fromisoformat(data["starts_at"]), ends_at=datetime.fromisoformat(data["ends_at"]))
        appointment = moved.appointment
        message = "Undone: the appointment is back where it was."
        # R8 removed telehealth on the way out: moving back does not bring it back by itself.
        restore_telehealth = data["telehealth"] and not appointment.is_telehealth
    else:
        appointment = appointment_reinstate(actor=actor, appointment=appointment).appointment
        if data["status"] in SETTABLE_STATUSES and data["status"] != Status.BOOKED:
            appointment = appointment_set_status(actor=actor, appointment=appointment, status=data["status"])
        message = "Undone: the appointment is booked again."
        restore_telehealth = appointment.is_telehealth  # its meeting went with the cancellation (R10)
    restored = False
    if restore_telehealth:
        try:
            appointment = appointment_telehealth_add(actor=actor, appointment=appointment)
        except ApplicationError as exc:  # the appointment is back either way; say why Zoom is not
            warnings.append(f"Telehealth could not be restored: {exc.message}")
        else:
            restored = True
            message += " Telehealth is back, with a new Zoom meeting: send its details to the client."
    return UndoResult(appointment, message, moved, restored, warnings)


# Appointment types (Options) ----------------------------------------------------------------------------------

TYPE_FIELDS = ("name", "default_duration", "colour", "is_active", "usually_telehealth")


def _type_values(appointment_type: AppointmentType) -> dict:
    return {name: getattr(appointment_type, name) for name in TYPE_FIELDS}


def _type_save(appointment_type: AppointmentType) -> None:
    """Validate as the model says (bounds, colour, case-insensitive name) and save, or refuse with the reason."""
    appointment_type.name = appointment_type.name.strip()
    appointment_type.colour = appointment_type.colour.lower()
    try:
        appointment_type.full_clean()
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="invalid",
                               extra={"errors": getattr(exc, "message_dict", {})}) from None
    try:
        with transaction.atomic():  # a savepoint: a name taken meanwhile must not break the caller's transaction
            appointment_type.save()
    except IntegrityError:
        raise ApplicationError("An appointment type with this name already exists.", code="name_taken",
                               extra={"errors": {"name": ["An appointment type with this name already exists."]}}
                               ) from None


@transaction.atomic
def appointment_type_create(*, actor: User, name: str, default_duration: int, colour: str, is_active: bool = True,
                            usually_telehealth: bool = False) -> AppointmentType:
    appointment_type = AppointmentType(name=name, default_duration=default_duration, colour=colour,
                                       is_active=is_active, usually_telehealth=usually_telehealth)
    _type_save(appointment_type)
    audit_record(actor=actor, action="appointment_type.created", obj=appointment_type,
                 summary=f"Appointment type {appointment_type.name} added",
                 changes=field_changes({}, _type_values(appointment_type)))
    return appointment_type


@transaction.atomic
def appointment_type_update(*, actor: User, appointment_type: AppointmentType, name: str, default_duration: int,
                            colour: str, is_active: bool, usually_telehealth: bool) -> AppointmentType:
    """Change a type. Types are never deleted (past appointments keep theirs): an unwanted one is deactivated."""
    locked = AppointmentType.objects.select_for_update().get(pk=appointment_type.pk)
    before = _type_values(locked)
    locked.name, locked.default_duration, locked.colour = name, default_duration, colour
    locked.is_active, locked.usually_telehealth = is_active, usually_telehealth
    if before["is_active"] and not is_active and not AppointmentType.objects.filter(
            is_active=True).exclude(pk=locked.pk).exists():
        raise ApplicationError("Keep at least one active appointment type: every booking needs one.",
                               code="last_active_type")
    _type_save(locked)
    changes = field_changes(before, _type_values(locked))
    if changes:  # saving an unchanged form changes nothing, so it is no event in the trail
        audit_record(actor=actor, action="appointment_type.changed", obj=locked,
                     summary=f"Appointment type {locked.name} changed", changes=changes)
    return locked


# Repeat bookings (series) --------------------------------------------------------------------------------------
#
# "Repeat every N weeks, M times (or until a date)": series_plan lists every date with what stops it being
# booked, saving nothing; series_book books only the dates the user confirmed, each through appointment_book in
# its own transaction, checking each again as it saves. Outside working hours is a clash here (skipped), not the
# warning a single booking gets: a repeat is confirmed as a list, and "only the free dates are booked".

SERIES_COUNT_MIN, SERIES_COUNT_MAX = 2, 52


def _one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


@dataclass(frozen=True)
class SeriesRule:
    """Every ``interval_weeks`` weeks from the first day: ``count`` appointments in all, or ``until`` a last day."""

    interval_weeks: int
    count: int | None = None
    until: date | None = None

    def days(self, first_day: date) -> list[date]:
        """The series' days, the first included; refused with the reason when the rule is out of bounds."""
        if not 1 <= self.interval_weeks <= SERIES_WEEKS_MAX:
            raise ApplicationError(f"Repeat every 1 to {SERIES_WEEKS_MAX} weeks.", code="series_interval")
        if self.count is not None and self.until is None:
            if not SERIES_COUNT_MIN <= self.count <= SERIES_COUNT_MAX:
                raise ApplicationError(f"A series has {SERIES_COUNT_MIN} to {SERIES_COUNT_MAX} appointments, "
                                       "this one included.", code="series_count")
            return [first_day + timedelta(weeks=self.interval_weeks * index) for index in range(self.count)]
        if self.until is not None and self.count is None:
            return self._days_until(first_day, self.until)
        raise ApplicationError("Say how many appointments in all, or the date to repeat until (one of the two).",
                               code="series_end")

    def _days_until(self, first_day: date, until: date) -> list[date]:
        if until <= first_day:
            raise ApplicationError("The repeat-until date must be after the first appointment.", code="series_until")
        if until > _one_year_after(first_day):
            raise ApplicationError("Repeat until a date at most a year after the first appointment.",
                                   code="series_until")
        days = []
        day = first_day
        while day <= until:
            days.append(day)
            day += timedelta(weeks=self.interval_weeks)
        if len(days) < SERIES_COUNT_MIN:
            raise ApplicationError(f"Only the first appointment falls by {until:%d %b %Y}: choose a later date, "
                                   "or book without repeating.", code="series_until")
        if len(days) > SERIES_COUNT_MAX:
            raise ApplicationError(f"That makes {len(days)} appointments; a series has at most {SERIES_COUNT_MAX}. "
                                   "Choose an earlier date.", code="series_count")
        return days


@dataclass(frozen=True)
class SeriesDate:
    """One date of a series, with every reason it cannot be booked (none: it is free)."""

    day: date
    starts_at: datetime | None  # None when the time does not exist that day (clocks go forward)
    ends_at: datetime | None
    clashes: tuple[str, ...] = ()

    @property
    def is_free(self) -> bool:
        return not self.clashes


def _series_dates(*, rule: SeriesRule, first_day: date, start_time: time, minutes: int, zone) -> list[SeriesDate]:
    """Each day at the same wall-clock time in the practice's zone, lasting ``minutes`` of real time."""
    dates = []
    for day in rule.days(first_day):
        try:
            starts_at = local_to_aware(day, start_time, zone)
        except ValidationError:
            dates.append(SeriesDate(day, None, None, (
                f"{start_time:%H:%M} does not exist that day: the clocks go forward.",)))
            continue
        dates.append(SeriesDate(day, starts_at.astimezone(UTC), ends_after(starts_at, minutes)))
    return dates


def _times(starts_at: datetime, ends_at: datetime, zone) -> str:
    return f"{timezone.localtime(starts_at, zone):%H:%M}–{timezone.localtime(ends_at, zone):%H:%M}"


def _series_clashes(*, practitioner: Practitioner, starts_at: datetime, ends_at: datetime, is_telehealth: bool,
                    zone) -> tuple[str, ...]:
    """What stops this date being booked: the practitioner's own bookings, working hours, and for telehealth a
    past time (R6) and the Basic-plan overlap (R3)."""
    clashes = []
    taken = _slot_clash(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, exclude_pk=None)
    if taken is not None:
        clashes.append(f"{practitioner} already has an appointment {_times(taken.starts_at, taken.ends_at, zone)}.")
    if _working_hours_warnings(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, zone=zone):
        clashes.append(f"Outside {practitioner}'s working hours.")
    if is_telehealth:
        if starts_at <= timezone.now():
            clashes.append("In the past: telehealth meetings can only be made for future times.")
        connection = getattr(practitioner, "zoom_connection", None)
        if connection is not None and connection.is_basic:
            meeting = _zoom_user_clash(host_user=connection.zoom_user, starts_at=starts_at, ends_at=ends_at,
                                       exclude_pk=None)
            if meeting is not None:
                clashes.append(f"The Zoom user {connection.zoom_user} is on a Basic plan (one meeting at a time) "
                               f"and has the telehealth appointment with {meeting.practitioner} "
                               f"{_times(meeting.starts_at, meeting.ends_at, zone)}.")
    return tuple(clashes)


def _validate_series(*, practitioner: Practitioner, location: Location, appointment_type: AppointmentType,
                     is_telehealth: bool) -> None:
    """What would refuse every date alike is refused once, for the whole series."""
    _validate_active(practitioner=practitioner, location=location)
    _validate_type_offered(appointment_type)
    if is_telehealth:
        telehealth.connection_for_telehealth(practitioner)


def series_plan(*, practitioner: Practitioner, location: Location, appointment_type: AppointmentType,
                first_day: date, start_time: time, minutes: int, rule: SeriesRule,
                is_telehealth: bool = False) -> list[SeriesDate]:
    """Every date of the repeat, each with its clashes. Reads only: nothing is saved until series_book."""
    zone = Practice.load().zone
    _validate_series(practitioner=practitioner, location=location, appointment_type=appointment_type,
                     is_telehealth=is_telehealth)
    return [
        replace(planned, clashes=_series_clashes(practitioner=practitioner, starts_at=planned.starts_at,
                                                 ends_at=planned.ends_at, is_telehealth=is_telehealth, zone=zone))
        if planned.starts_at is not None and planned.ends_at is not None else planned
        for planned in _series_dates(rule=rule, first_day=first_day, start_time=start_time, minutes=minutes,
                                     zone=zone)
    ]


@dataclass
class SeriesBooking:
    series: AppointmentSeries | None  # None when no date could be booked
    booked: list[Appointment]
    skipped: list[SeriesDate]  # confirmed dates that clashed by the time they were saved, with why


def series_book(*, actor: User, client: Client | None, new_client: dict | None = None, practitioner: Practitioner,
                location: Location, appointment_type: AppointmentType, first_day: date, start_time: time,
                minutes: int, rule: SeriesRule, days: Collection[date], notes: str = "",
                is_telehealth: bool = False) -> SeriesBooking:
    """Book the confirmed ``days`` of the repeat, each in its own transaction through appointment_book.

    Not atomic as a whole, on purpose: a date taken since the list was shown is skipped and reported and the others
    are still booked. Each date is checked again as it is saved, so nothing is double-booked. A new client is
    added with the first date booked. Telehealth gets one Zoom meeting per appointment (R5), made after each commit.
    """
    zone = Practice.load().zone
    _validate_series(practitioner=practitioner, location=location, appointment_type=appointment_type,
                     is_telehealth=is_telehealth)
    wanted = set(days)
    outcome = SeriesBooking(series=None, booked=[], skipped=[])
    for planned in _series_dates(rule=rule, first_day=first_day, start_time=start_time, minutes=minutes, zone=zone):
        if planned.day not in wanted:
            continue
        if planned.starts_at is None or planned.ends_at is None:
            outcome.skipped.append(planned)
            continue
        starts_series = outcome.series is None
        try:
            with transaction.atomic():
                clashes = _series_clashes(practitioner=practitioner, starts_at=planned.starts_at,
                                          ends_at=planned.ends_at, is_telehealth=is_telehealth, zone=zone)
                if clashes:
                    raise ApplicationError(" ".join(clashes), code="conflict")
                if outcome.series is None:
                    outcome.series = AppointmentSeries.objects.create(interval_weeks=rule.interval_weeks,
                                                                      created_by=actor)
                result = appointment_book(
                    actor=actor, client=client, new_client=new_client, practitioner=practitioner,
                    location=location, appointment_type=appointment_type, starts_at=planned.starts_at,
                    ends_at=planned.ends_at, notes=notes, is_telehealth=is_telehealth, series=outcome.series)
        except ApplicationError as exc:
            if starts_series:
                outcome.series = None  # rolled back with this date
            outcome.skipped.append(replace(planned, clashes=(exc.message,)))
            continue
        outcome.booked.append(result.appointment)
        client, new_client = result.appointment.client, None
    return outcome


@dataclass
class SeriesChange:
    """What "this and following" did: the appointments changed, and those skipped with why."""

    changed: list[BookingResult]
    skipped: list[tuple[Appointment, str]]


def _this_and_following(appointment: Appointment) -> list[Appointment]:
    if appointment.series_id is None:
        raise ApplicationError("This appointment is not part of a series.", code="no_series")
    return list(
        Appointment.objects.filter(series_id=appointment.series_id, starts_at__gte=appointment.starts_at)
        .exclude(status=Status.CANCELLED)
        .select_related("practitioner", "location")
        .order_by("starts_at")
    )


def _wall_clock(moment: datetime, zone) -> datetime:
    return timezone.localtime(moment, zone).replace(tzinfo=None)


def series_move_following(*, actor: User, appointment: Appointment, starts_at: datetime, ends_at: datetime,
                          practitioner: Practitioner, location: Location) -> SeriesChange:
    """Move this appointment as asked and shift each later one in its series by the same wall-clock change.

    Each goes through appointment_move on its own (R7 re-creates a telehealth meeting, R8 drops it for another
    practitioner); one that would clash is skipped and reported, the others are still moved. "Same change" is on
    the wall clock: a week later at 11:00 instead of 10:00 stays 11:00 across a daylight-saving change.
    """
    zone = Practice.load().zone
    appointment = Appointment.objects.get(pk=appointment.pk)
    targets = _this_and_following(appointment)
    shift = _wall_clock(starts_at, zone) - _wall_clock(appointment.starts_at, zone)
    new_duration = ends_at - starts_at
    duration_changed = new_duration != appointment.duration
    # Moving later, the last goes first (and earlier, the first) so the series never clashes with itself.
    if shift > timedelta(0):
        targets.reverse()
    outcome = SeriesChange(changed=[], skipped=[])
    for target in targets:
        if target.pk == appointment.pk:
            new_start, new_end = starts_at, ends_at
        else:
            wanted = _wall_clock(target.starts_at, zone) + shift
            try:
                new_start = local_to_aware(wanted.date(), wanted.time(), zone)
            except ValidationError as exc:
                outcome.skipped.append((target, exc.messages[0]))
                continue
            new_end = new_start.astimezone(UTC) + (new_duration if duration_changed else target.duration)
        if not can_change_appointment(actor, target):
            outcome.skipped.append((target, f"Only {target.practitioner} or the front desk can change it."))
            continue
        try:
            outcome.changed.append(appointment_move(actor=actor, appointment=target, starts_at=new_start,
                                                    ends_at=new_end, practitioner=practitioner, location=location))
        except ApplicationError as exc:
            outcome.skipped.append((target, exc.message))
    outcome.changed.sort(key=lambda result: result.appointment.starts_at)
    outcome.skipped.sort(key=lambda skipped: skipped[0].starts_at)
    return outcome


def series_cancel_following(*, actor: User, appointment: Appointment, reason: str = "") -> SeriesChange:
    """Cancel this appointment and each later one in its series, each through appointment_cancel (R10)."""
    outcome = SeriesChange(changed=[], skipped=[])
    for target in _this_and_following(Appointment.objects.get(pk=appointment.pk)):
        if not can_change_appointment(actor, target):
            outcome.skipped.append((target, f"Only {target.practitioner} or the front desk can change it."))
            continue
        try:
            outcome.changed.append(BookingResult(appointment_cancel(actor=actor, appointment=target, reason=reason),
                                                 previous_status=target.status))
        except ApplicationError as exc:
            outcome.skipped.append((target, exc.message))
    return outcome


# Undo of "this and following" ---------------------------------------------------------------------------------
# One token for the whole change: each appointment changed, with its updated_at just after the change and what it
# was before. Undo is all or nothing: when any one has changed since, no longer exists, or cannot go back (its old
# time taken since), nothing is undone and the message says which. Only the new Zoom meetings are "where possible":
# the appointments are back either way, and the message says which could not have one and why.


def _series_undo_token(*, actor: User, kind: str, items: list[dict]) -> str:
    return signing.dumps({"kind": kind, "user": actor.pk, "items": items}, salt=UNDO_SALT, compress=True)


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _them(number: int) -> str:
    return "it" if number == 1 else "both" if number == 2 else f"all {number}"


def undo_offer_series_move(*, actor: User, outcome: SeriesChange) -> UndoOffer | None:
    """The Undo for a "this and following" move: every appointment it moved goes back (None when none moved)."""
    moved = [(result, result.previous) for result in outcome.changed if result.previous is not None]
    if not moved:
        return None
    items = [{"appointment": result.appointment.pk, "stamp": result.appointment.updated_at.isoformat(),
              "practitioner": previous.practitioner_id, "location": previous.location_id,
              "starts_at": previous.starts_at.isoformat(), "ends_at": previous.ends_at.isoformat(),
              "telehealth": previous.is_telehealth} for result, previous in moved]
    text = f"Undo moves {_them(len(moved))} back"
    recreated = sum(result.telehealth == TelehealthChange.RECREATED for result, _ in moved)
    removed = sum(result.telehealth == TelehealthChange.REMOVED for result, _ in moved)
    if recreated:
        text += (f"; each of the {_count(recreated, 'telehealth appointment')} gets another new Zoom meeting and "
                 "the current links stop working")
    if removed:
        text += (f"; the {_count(removed, 'appointment')} that lost telehealth become telehealth again, each with a "
                 "new Zoom meeting (the old ones are gone)")
    return UndoOffer(_series_undo_token(actor=actor, kind="series_move", items=items), text + ".")


def undo_offer_series_cancel(*, actor: User, outcome: SeriesChange) -> UndoOffer | None:
    """The Undo for a "this and following" cancel: every appointment it cancelled is reinstated."""
    if not outcome.changed:
        return None
    items = [{"appointment": result.appointment.pk, "stamp": result.appointment.updated_at.isoformat(),
              "status": result.previous_status} for result in outcome.changed]
    count = len(outcome.changed)
    text = f"Undo reinstates {_them(count)}"
    with_meeting = sum(result.appointment.is_telehealth for result in outcome.changed)
    if with_meeting:
        text += (f" and creates a new Zoom meeting for each of the {_count(with_meeting, 'telehealth appointment')} "
                 "(the cancellation deleted the old ones)")
    return UndoOffer(_series_undo_token(actor=actor, kind="series_cancel", items=items), text + ".")


def _when_list(appointments: list[Appointment], zone) -> str:
    return ", ".join(f"{timezone.localtime(appointment.starts_at, zone):%a %d %b %H:%M}"
                     for appointment in sorted(appointments, key=lambda appointment: appointment.starts_at))


def _series_undo_targets(items: list[dict], zone) -> list[tuple[Appointment, dict]]:
    """Each appointment of the token, locked, as long as every one is just as the change left it."""
    locked = Appointment.objects.select_for_update().in_bulk([item["appointment"] for item in items])
    gone = [item for item in items if item["appointment"] not in locked]
    if gone:
        raise ApplicationError(f"Nothing was undone: {_count(len(gone), 'appointment')} of the {len(items)} no "
                               "longer exist.", code="undo_gone")
    changed = [locked[item["appointment"]] for item in items
               if locked[item["appointment"]].updated_at.isoformat() != item["stamp"]]
    if changed:
        raise ApplicationError(
            f"Nothing was undone: {_count(len(changed), 'appointment')} of the {len(items)} changed since "
            f"({_when_list(changed, zone)}), and Undo would overwrite that. Open the appointments to change them.",
            code="undo_changed")
    return [(locked[item["appointment"]], item) for item in items]


def _series_move_back(*, actor: User, targets: list[tuple[Appointment, dict]], zone) -> list[BookingResult]:
    """Move each appointment back through appointment_move; the first that cannot go back refuses them all."""
    practitioners = Practitioner.objects.in_bulk({item["practitioner"] for _, item in targets})
    locations = Location.objects.in_bulk({item["location"] for _, item in targets})
    # Going back later, the latest goes first (and earlier, the earliest), so the series never clashes with itself.
    shift = sum((datetime.fromisoformat(item["starts_at"]) - appointment.starts_at for appointment, item in targets),
                timedelta(0))
    ordered = sorted(targets, key=lambda target: target[0].starts_at, reverse=shift > timedelta(0))
    results = []
    for appointment, item in ordered:
        practitioner, location = practitioners.get(item["practitioner"]), locations.get(item["location"])
        if practitioner is None or location is None:
            raise ApplicationError("Nothing was undone: the practitioner or location they were with no longer "
                                   "exists.", code="undo_gone")
        try:
            results.append(appointment_move(
                actor=actor, appointment=appointment, practitioner=practitioner, location=location,
                starts_at=datetime.fromisoformat(item["starts_at"]), ends_at=datetime.fromisoformat(item["ends_at"])))
        except ApplicationError as exc:
            raise ApplicationError(f"Nothing was undone: the appointment of {_when_list([appointment], zone)} "
                                   f"cannot go back: {exc.message}", code=exc.code) from None
    results.sort(key=lambda result: result.appointment.starts_at)
    return results


def _series_restore_telehealth(*, actor: User, appointments: list[Appointment], zone) -> tuple[int, list[str]]:
    """A new Zoom meeting for each, where possible: how many got one, and why the others did not."""
    restored = 0
    refused: dict[str, list[Appointment]] = {}  # why → the appointments refused for that reason
    for appointment in appointments:
        try:
            appointment_telehealth_add(actor=actor, appointment=appointment)
        except ApplicationError as exc:
            refused.setdefault(exc.message, []).append(appointment)
        else:
            restored += 1
    return restored, [f"Telehealth could not be restored for {_when_list(those, zone)}: {why}"
                      for why, those in refused.items()]


def _series_undo(*, actor: User, data: dict) -> UndoResult:
    """Put back every appointment of a "this and following" move or cancel (appointment_undo's transaction)."""
    zone = Practice.load().zone
    targets = _series_undo_targets(data["items"], zone)
    count = len(targets)
    if data["kind"] == "series_move":
        moved = _series_move_back(actor=actor, targets=targets, zone=zone)
        appointments = [result.appointment for result in moved]
        message = ("Undone: the appointment is back where it was." if count == 1
                   else f"Undone: the {count} appointments are back where they were.")
        # R8 removed telehealth on the way out: moving back does not bring it back by itself.
        wanted = {item["appointment"] for _, item in targets if item["telehealth"]}
        to_restore = [appointment for appointment in appointments
                      if appointment.pk in wanted and not appointment.is_telehealth]
    else:
        moved = []
        appointments = []
        for appointment, item in sorted(targets, key=lambda target: target[0].starts_at):
            try:
                appointment = appointment_reinstate(actor=actor, appointment=appointment).appointment
            except ApplicationError as exc:
                raise ApplicationError(f"Nothing was undone: the appointment of {_when_list([appointment], zone)} "
                                       f"cannot be reinstated: {exc.message}", code=exc.code) from None
            if item["status"] in SETTABLE_STATUSES and item["status"] != Status.BOOKED:
                appointment = appointment_set_status(actor=actor, appointment=appointment, status=item["status"])
            appointments.append(appointment)
        message = ("Undone: the appointment is booked again." if count == 1
                   else f"Undone: the {count} appointments are booked again.")
        to_restore = [appointment for appointment in appointments if appointment.is_telehealth]  # R10 took them
    restored, warnings = _series_restore_telehealth(actor=actor, appointments=to_restore, zone=zone)
    if restored:
        message += (f" Telehealth is back for {_count(restored, 'appointment')}, each with a new Zoom meeting "
                    "being created: send the details to the client from each appointment.")
    return UndoResult(appointments[0], message, telehealth_restored=bool(restored), warnings=warnings,
                      series_moved=moved)
