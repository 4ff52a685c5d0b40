"""Booking rules: every change to an appointment goes through these functions.

Each service is atomic, writes one audit event and raises ApplicationError with a message the
front desk understands. Telehealth rides along: the appointment is saved first, its Zoom meeting is
recorded as a row to create or delete, and Zoom is called only after the transaction commits
(telehealth.services), so a Zoom failure never loses or half-changes an appointment.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from practice.audit import audit_record, field_changes
from practice.errors import ApplicationError
from practice.models import Client, Location, Practice, Practitioner, WorkingHours
from practice.services import client_create
from scheduling.models import NO_OVERLAP_CONSTRAINT, Appointment, AppointmentType, Status
from telehealth import services as telehealth
from telehealth.models import MeetingState

# Statuses a person may set directly; cancelling has its own service because it frees the slot.
SETTABLE_STATUSES = (Status.BOOKED, Status.ARRIVED, Status.COMPLETED, Status.DID_NOT_ATTEND)


class TelehealthChange:
    """What a move did to the Zoom meeting, for the message after it (R7, R8)."""

    RECREATED = "recreated"
    REMOVED = "removed"


@dataclass
class BookingResult:
    appointment: Appointment
    warnings: list[str] = field(default_factory=list)
    telehealth: str = ""  # a TelehealthChange value when the move changed the meeting


def _describe(appointment: Appointment, zone) -> str:
    start = timezone.localtime(appointment.starts_at, zone)
    end = timezone.localtime(appointment.ends_at, zone)
    return f"{start:%a %d %b %H:%M}–{end:%H:%M}"


def _ensure_slot_free(*, practitioner: Practitioner, starts_at: datetime, ends_at: datetime,
                      exclude_pk: int | None, zone) -> None:
    clash = (
        Appointment.objects.filter(practitioner=practitioner, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .exclude(status=Status.CANCELLED)
        .exclude(pk=exclude_pk or 0)
        .select_related("client")
        .first()
    )
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
    if ends_at - starts_at > timedelta(hours=12):
        raise ApplicationError("An appointment cannot be longer than 12 hours.", code="invalid_time")
    return starts_at, ends_at


def _validate_active(*, practitioner: Practitioner, location: Location) -> None:
    if not practitioner.is_active:
        raise ApplicationError(f"{practitioner} is no longer active and cannot take bookings.", code="inactive")
    if not location.is_active:
        raise ApplicationError(f"The location {location} is no longer in use.", code="inactive")


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
) -> BookingResult:
    """Book ``client``, or first add ``new_client`` (the quick-add fields); both or neither are saved."""
    zone = Practice.load().zone
    if ends_at is None:
        ends_at = ends_after(starts_at, appointment_type.default_duration)
    starts_at, ends_at = _validate_times(starts_at, ends_at)
    _validate_active(practitioner=practitioner, location=location)
    if not appointment_type.is_active:
        raise ApplicationError(f"The appointment type {appointment_type} is no longer offered.", code="inactive")
    _ensure_slot_free(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, exclude_pk=None, zone=zone)
    if client is None:
        if not new_client:
            raise ApplicationError("Choose a client, or add a new one.", code="no_client")
        client = client_create(actor=actor, **new_client)
    appointment = Appointment(
        client=client, practitioner=practitioner, location=location, appointment_type=appointment_type,
        starts_at=starts_at, ends_at=ends_at, notes=notes, created_by=actor, updated_by=actor,
    )
    if is_telehealth:
        _plan_telehealth(appointment, zone=zone)
    _save_guarded(appointment, practitioner=practitioner, zone=zone)
    audit_record(
        actor=actor, action="appointment.booked", obj=appointment,
        summary=f"Booked with {practitioner} at {_describe(appointment, zone)}",
        changes={"practitioner": practitioner.pk, "location": location.pk, "type": appointment_type.pk,
                 "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "telehealth": is_telehealth},
    )
    return BookingResult(appointment, _working_hours_warnings(
        practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, zone=zone))


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
    if appointment.is_cancelled:
        raise ApplicationError("A cancelled appointment cannot be moved. Reinstate it first.", code="cancelled")
    starts_at, ends_at = _validate_times(starts_at, ends_at)
    _validate_active(practitioner=practitioner, location=location)
    before = {"practitioner": appointment.practitioner_id, "location": appointment.location_id,
              "starts_at": appointment.starts_at.isoformat(), "ends_at": appointment.ends_at.isoformat()}
    after = {"practitioner": practitioner.pk, "location": location.pk,
             "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()}
    if before == after:
        return BookingResult(appointment)
    _ensure_slot_free(practitioner=practitioner, starts_at=starts_at, ends_at=ends_at,
                      exclude_pk=appointment.pk, zone=zone)
    other_practitioner = practitioner.pk != appointment.practitioner_id
    new_time = (starts_at, ends_at) != (appointment.starts_at, appointment.ends_at)
    appointment.practitioner = practitioner
    appointment.location = location
    appointment.starts_at = starts_at
    appointment.ends_at = ends_at
    appointment.updated_by = actor
    telehealth_change = ""
    if appointment.is_telehealth and other_practitioner:
        # R8: telehealth does not follow an appointment to another practitioner.
        _drop_telehealth(appointment)
        telehealth_change = TelehealthChange.REMOVED
        home = practitioner.default_location
        if location.is_telehealth and home is not None and home.is_active and not home.is_telehealth:
            # A Telehealth location without a meeting would tell the client to expect a video call.
            appointment.location = home
    elif appointment.is_telehealth and new_time:
        # R7: Zoom's meeting is deleted and a new one made for the new time.
        if appointment.zoom_meeting is not None:
            telehealth.meeting_discard(meeting=appointment.zoom_meeting)
        _plan_telehealth(appointment, zone=zone, replacing=True)
        telehealth_change = TelehealthChange.RECREATED
    _save_guarded(appointment, practitioner=practitioner, zone=zone)
    audit_record(
        actor=actor, action="appointment.moved", obj=appointment,
        summary=f"Moved to {practitioner} at {_describe(appointment, zone)}",
        changes={**{key: [before[key], after[key]] for key in after if before[key] != after[key]},
                 **({"telehealth": telehealth_change} if telehealth_change else {})},
    )
    return BookingResult(appointment, _working_hours_warnings(
        practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, zone=zone), telehealth=telehealth_change)


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
def appointment_cancel(*, actor: User, appointment: Appointment, reason: str = "") -> Appointment:
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.is_cancelled:
        raise ApplicationError("This appointment is already cancelled.", code="cancelled")
    previous = appointment.status
    appointment.status = Status.CANCELLED
    appointment.updated_by = actor
    appointment.save(update_fields=["status", "updated_by", "updated_at"])
    if appointment.zoom_meeting is not None:
        telehealth.meeting_discard(meeting=appointment.zoom_meeting)  # R10: no orphan meetings
    audit_record(actor=actor, action="appointment.cancelled", obj=appointment,
                 summary="Cancelled" + (f": {reason[:200]}" if reason else ""),
                 changes={"status": [previous, Status.CANCELLED]})
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
    _save_guarded(appointment, practitioner=appointment.practitioner, zone=zone)
    audit_record(actor=actor, action="appointment.reinstated", obj=appointment, summary="Reinstated",
                 changes={"status": [Status.CANCELLED, Status.BOOKED]})
    return BookingResult(appointment)


def _plan_telehealth(appointment: Appointment, *, zone, replacing: bool = False) -> None:
    """Give the (unsaved or changing) appointment a new Zoom meeting to create after commit (R5, R6, R3)."""
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    meeting = telehealth.meeting_plan(practitioner=appointment.practitioner, starts_at=appointment.starts_at,
                                      duration=minutes, replacing=replacing)
    connection = getattr(appointment.practitioner, "zoom_connection", None)
    if connection is not None and connection.is_basic:
        _ensure_zoom_user_free(appointment, host_user=connection.zoom_user, zone=zone)
    appointment.zoom_meeting = meeting
    appointment.is_telehealth = True


def _ensure_zoom_user_free(appointment: Appointment, *, host_user: str, zone) -> None:
    """R3: a Basic Zoom user runs one meeting at a time, also when colleagues share that Zoom user."""
    clash = (
        Appointment.objects.filter(is_telehealth=True, zoom_meeting__host_user__iexact=host_user,
                                   zoom_meeting__state__in=(MeetingState.PENDING_CREATE, MeetingState.ACTIVE),
                                   starts_at__lt=appointment.ends_at, ends_at__gt=appointment.starts_at)
        .exclude(status=Status.CANCELLED)
        .exclude(pk=appointment.pk)
        .select_related("practitioner")
        .first()
    )
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
