"""Writes to the practice's own data. Every function is keyword-only, atomic, validates through the model
(``full_clean()``) before saving and refuses with ApplicationError; every Options change is one audit event."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from practice import roles
from practice.audit import audit_record, field_changes
from practice.errors import ApplicationError
from practice.models import Client, Location, Practice, Practitioner, WorkingHours
from practice.phones import mobile_display
from practice.selectors import client_possible_duplicates

CLIENT_FIELDS = ("first_name", "last_name", "preferred_name", "date_of_birth", "mobile", "email",
                 "sms_reminders", "email_reminders", "notes")
# Only the names of changed fields reach the audit trail, never the values (contact details stay out).


def _validated(obj: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """``full_clean()``, its refusal as an ApplicationError carrying the errors per field for a form."""
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        errors = getattr(exc, "message_dict", {})
        raise ApplicationError(" ".join(exc.messages), code="invalid", extra={"errors": errors}) from None


def _saved(obj: models.Model, *, taken_field: str = "", taken_message: str = "") -> None:
    """Save in a savepoint: a unique value taken meanwhile is a refusal, not a broken transaction."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        if not taken_field:
            raise
        raise ApplicationError(taken_message, code="taken", extra={"errors": {taken_field: [taken_message]}}) from None


def duplicate_message(duplicate: Client) -> str:
    """"Possible duplicate: Liam Kelly, 0410 000 023": who the new client may already be."""
    mobile = f", {mobile_display(duplicate.mobile)}" if duplicate.mobile else ""
    return f"Possible duplicate: {duplicate}{mobile}"


@transaction.atomic
def client_create(*, actor: User, allow_duplicate: bool = False, **fields) -> Client:
    """Add a client. When one with the same first and last name or the same mobile exists, refuse with
    code "possible_duplicate" (the form offers that client, or "Create anyway"), unless ``allow_duplicate``:
    two people may share a name, but adding someone twice splits their history and their reminders."""
    client = Client(**{name: value for name, value in fields.items() if name in CLIENT_FIELDS})
    _validated(client)
    if not allow_duplicate:
        duplicates = client_possible_duplicates(first_name=client.first_name, last_name=client.last_name,
                                                mobile=client.mobile)
        if duplicates:
            raise ApplicationError(f"{duplicate_message(duplicates[0])}. Use this client, or tick “Create anyway” "
                                   "if this is a different person.", code="possible_duplicate",
                                   extra={"duplicates": duplicates})
    client.save()
    audit_record(actor=actor, action="client.created", obj=client, summary=f"Client #{client.pk} added")
    return client


@transaction.atomic
def client_update(*, actor: User, client: Client, **fields) -> Client:
    changed = [name for name, value in fields.items() if name in CLIENT_FIELDS and getattr(client, name) != value]
    for name in changed:
        setattr(client, name, fields[name])
    if changed:
        _validated(client)
        client.save()
        audit_record(actor=actor, action="client.updated", obj=client, summary=f"Client #{client.pk} updated",
                     changes={"fields": changed})
    return client


# Options → Practice ---------------------------------------------------------------------------------------------

PRACTICE_FIELDS = ("name", "phone", "email", "address", "time_zone", "opens_at", "closes_at",
                   "client_cancel_notice_hours")


def _values(obj: models.Model, names: Iterable[str]) -> dict:
    return {name: getattr(obj, name) for name in names}


@transaction.atomic
def practice_update(*, actor: User, name: str, phone: str, email: str, address: str, time_zone: str,
                    opens_at: time, closes_at: time, client_cancel_notice_hours: int = 24) -> Practice:
    Practice.load()  # the row exists before it is locked
    practice = Practice.objects.select_for_update().get(pk=1)
    before = _values(practice, PRACTICE_FIELDS)
    practice.name, practice.phone, practice.email, practice.address = name.strip(), phone, email, address
    practice.time_zone, practice.opens_at, practice.closes_at = time_zone, opens_at, closes_at
    practice.client_cancel_notice_hours = client_cancel_notice_hours
    _validated(practice)
    changes = field_changes(before, _values(practice, PRACTICE_FIELDS))
    if changes:  # an unchanged save is no event in the trail
        practice.save()
        audit_record(actor=actor, action="practice.changed", obj=practice, summary="Practice details changed",
                     changes=changes)
    return practice


# Options → Locations --------------------------------------------------------------------------------------------

LOCATION_FIELDS = ("name", "address", "phone", "colour", "is_telehealth", "is_active")
LOCATION_TAKEN = "A location with this name already exists."


def _location_name_taken(name: str, *, exclude_pk: int | None) -> bool:
    # "Surry Hills" and "surry hills" would be two entries nobody can tell apart in the diary's filter.
    same_name = Location.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        same_name = same_name.exclude(pk=exclude_pk)
    return same_name.exists()


def _location_check(location: Location) -> None:
    location.name, location.colour = location.name.strip(), location.colour.lower()
    if _location_name_taken(location.name, exclude_pk=location.pk):
        raise ApplicationError(LOCATION_TAKEN, code="taken", extra={"errors": {"name": [LOCATION_TAKEN]}})
    _validated(location)



@transaction.atomic
def location_create(*, actor: User, name: str, address: str = "", phone: str = "", colour: str = "#4f7cac",
                    is_telehealth: bool = False) -> Location:
    location = Location(name=name, address=address, phone=phone, colour=colour, is_telehealth=is_telehealth)
    _location_check(location)
    _saved(location, taken_field="name", taken_message=LOCATION_TAKEN)
    audit_record(actor=actor, action="location.created", obj=location, summary=f"Location {location.name} added",
                 changes=field_changes({}, _values(location, LOCATION_FIELDS)))
    return location


@transaction.atomic
def location_update(*, actor: User, location: Location, name: str, address: str, phone: str, colour: str,
                    is_telehealth: bool) -> Location:
    locked = Location.objects.select_for_update().get(pk=location.pk)
    before = _values(locked, LOCATION_FIELDS)
    locked.name, locked.address, locked.phone, locked.colour = name, address, phone, colour
    locked.is_telehealth = is_telehealth
    _location_check(locked)
    changes = field_changes(before, _values(locked, LOCATION_FIELDS))
    if changes:
        _saved(locked, taken_field="name", taken_message=LOCATION_TAKEN)
        audit_record(actor=actor, action="location.changed", obj=locked, summary=f"Location {locked.name} changed",
                     changes=changes)
    return locked


@transaction.atomic
def location_set_active(*, actor: User, location: Location, active: bool) -> Location:
    """Locations are never deleted (appointments keep theirs): one no longer used is deactivated, and can come
    back. The last active location stays, since every booking needs one."""
    locked = Location.objects.select_for_update().get(pk=location.pk)
    if locked.is_active == active:
        return locked
    if not active and not Location.objects.filter(is_active=True).exclude(pk=locked.pk).exists():
        raise ApplicationError("Keep at least one active location: every booking needs one.",
                               code="last_active_location")
    locked.is_active = active
    locked.save(update_fields=["is_active"])
    audit_record(actor=actor, action="location.activated" if active else "location.deactivated", obj=locked,
                 summary=f"Location {locked.name} {'reactivated' if active else 'deactivated'}",
                 changes=field_changes({"is_active": not active}, {"is_active": active}))
    return locked


# Options → Practitioners ----------------------------------------------------------------------------------------

PRACTITIONER_FIELDS = ("display_name", "profession", "colour", "default_location", "is_active")


def practitioner_candidates() -> models.QuerySet[User]:
    """Active users with the Practitioner role who have no practitioner profile yet."""
    return (User.objects.filter(is_active=True, groups__name=roles.PRACTITIONER, practitioner__isnull=True)
            .order_by("first_name", "last_name", "username").distinct())


def _practitioner_check(practitioner: Practitioner, *, previous_location_id: int | None) -> None:
    practitioner.display_name, practitioner.colour = practitioner.display_name.strip(), practitioner.colour.lower()
    location = practitioner.default_location
    if location is not None and not location.is_active and location.pk != previous_location_id:
        raise ApplicationError(f"{location} is not active.", code="inactive_location",
                               extra={"errors": {"default_location": [f"{location} is not active."]}})
    _validated(practitioner)


@transaction.atomic
def practitioner_create(*, actor: User, user: User, display_name: str, profession: str = "",
                        colour: str = "#2e7d6b", default_location: Location | None = None,
                        is_active: bool = True) -> Practitioner:
    if not practitioner_candidates().filter(pk=user.pk).exists():
        message = f"{user.get_username()} is not an active user with the Practitioner role without a profile."
        raise ApplicationError(message, code="not_a_candidate", extra={"errors": {"user": [message]}})
    practitioner = Practitioner(user=user, display_name=display_name, profession=profession, colour=colour,
                                default_location=default_location, is_active=is_active)
    _practitioner_check(practitioner, previous_location_id=None)
    _saved(practitioner, taken_field="user", taken_message="This user already has a practitioner profile.")
    audit_record(actor=actor, action="practitioner.created", obj=practitioner,
                 summary=f"Practitioner {practitioner.display_name} added",
                 changes=field_changes({}, {"user": user.get_username(),
                                            **_values(practitioner, PRACTITIONER_FIELDS)}))
    return practitioner


def _upcoming_appointments(practitioner: Practitioner) -> int:
    # Through the reverse relation: practice does not import scheduling (DESIGN.md §4).
    related = getattr(practitioner, "appointments", None)
    if related is None:
        return 0
    return related.filter(ends_at__gt=timezone.now()).exclude(status="cancelled").count()


@transaction.atomic
def practitioner_update(*, actor: User, practitioner: Practitioner, display_name: str, profession: str,
                        colour: str, default_location: Location | None, is_active: bool) -> Practitioner:
    locked = Practitioner.objects.select_for_update().get(pk=practitioner.pk)
    before = _values(locked, PRACTITIONER_FIELDS)
    previous_location_id = locked.default_location_id
    locked.display_name, locked.profession, locked.colour = display_name, profession, colour
    locked.default_location, locked.is_active = default_location, is_active
    _practitioner_check(locked, previous_location_id=previous_location_id)
    if before["is_active"] and not is_active:
        # An inactive practitioner has no diary column: their booked appointments would vanish from it.
        upcoming = _upcoming_appointments(locked)
        if upcoming:
            message = (f"{locked} still has {upcoming} upcoming appointment{'s' if upcoming != 1 else ''}: "
                       "move or cancel them before deactivating.")
            raise ApplicationError(message, code="upcoming_appointments", extra={"errors": {"is_active": [message]}})
    changes = field_changes(before, _values(locked, PRACTITIONER_FIELDS))
    if changes:
        locked.save()
        audit_record(actor=actor, action="practitioner.changed", obj=locked,
                     summary=f"Practitioner {locked.display_name} changed", changes=changes)
    return locked


# Working hours ---------------------------------------------------------------------------------------------------

DAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Shift:
    weekday: int
    starts_at: time
    ends_at: time
    location: Location | None


def shift_text(weekday: int, starts_at: time, ends_at: time, location: Location | None) -> str:
    """"Mon 09:00–17:00 @ Main": how the audit trail shows a shift."""
    where = f" @ {location.name}" if location is not None else ""
    return f"{DAY_ABBREVIATIONS[weekday]} {starts_at:%H:%M}–{ends_at:%H:%M}{where}"


def _week_text(shifts: Iterable[Shift]) -> list[str]:
    ordered = sorted(shifts, key=lambda s: (s.weekday, s.starts_at, s.ends_at))
    return [shift_text(s.weekday, s.starts_at, s.ends_at, s.location) for s in ordered]


def shift_overlaps(shifts: Iterable[Shift]) -> list[tuple[Shift, Shift]]:
    """Pairs of shifts on the same day that overlap (one ending exactly when the next starts is fine)."""
    ordered = sorted(shifts, key=lambda s: (s.weekday, s.starts_at))
    return [(a, b) for a, b in zip(ordered, ordered[1:], strict=False)
            if a.weekday == b.weekday and b.starts_at < a.ends_at]


@transaction.atomic
def working_hours_set(*, actor: User, practitioner: Practitioner, shifts: Iterable[Shift]) -> list[WorkingHours]:
    """Replace the practitioner's week with ``shifts``: all of them or none, one audit event (old → new)."""
    locked = Practitioner.objects.select_for_update().get(pk=practitioner.pk)
    shifts = list(shifts)
    previous = list(locked.working_hours.select_related("location"))
    kept_location_ids = {shift.location_id for shift in previous}
    rows = []
    for shift in shifts:
        if shift.weekday not in range(7):
            raise ApplicationError("A shift needs a day from Monday to Sunday.", code="invalid_weekday")
        if shift.location is not None and not shift.location.is_active and shift.location.pk not in kept_location_ids:
            raise ApplicationError(f"{shift.location} is not active.", code="inactive_location")
        row = WorkingHours(practitioner=locked, weekday=shift.weekday, starts_at=shift.starts_at,
                           ends_at=shift.ends_at, location=shift.location)
        _validated(row, exclude=["practitioner"])
        rows.append(row)
    overlaps = shift_overlaps(shifts)
    if overlaps:
        first, second = overlaps[0]
        raise ApplicationError(
            f"{shift_text(first.weekday, first.starts_at, first.ends_at, first.location)} overlaps "
            f"{shift_text(second.weekday, second.starts_at, second.ends_at, second.location)}.",
            code="overlapping_shifts")
    before = _week_text(Shift(s.weekday, s.starts_at, s.ends_at, s.location) for s in previous)
    after = _week_text(shifts)
    if before == after:
        return previous
    locked.working_hours.all().delete()
    WorkingHours.objects.bulk_create(rows)
    audit_record(actor=actor, action="practitioner.working_hours_set", obj=locked,
                 summary=f"Working hours of {locked.display_name} set",
                 changes=field_changes({"working_hours": before}, {"working_hours": after}))
    return list(locked.working_hours.select_related("location"))
