"""Reads for the diary. A day costs a fixed number of queries whatever the number of appointments.

The grid is laid out here, in Python, as plain numbers (rows, offsets) so that the template is a
couple of flat loops: no per-appointment queries, template tags or includes.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse

from practice import roles
from practice.models import Location, Practice, Practitioner, WorkingHours
from practice.timezones import day_bounds
from scheduling.models import Appointment, Status

SLOT_MINUTES = 15


@dataclass(slots=True)
class Slot:
    label: str  # "09:15"; shown on the hour only
    url: str
    off: bool  # outside the practitioner's working hours


@dataclass(slots=True)
class Block:
    pk: int
    top: float  # in slots from the top of the grid
    height: float
    time: str
    client: str
    type_name: str
    status: str
    status_label: str
    colour: str
    location: str


@dataclass
class Column:
    title: str
    subtitle: str
    colour: str
    slots: list[Slot] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass
class DiaryGrid:
    hours: list[tuple[str, int]]  # ("09:00", row) for the time axis
    rows: int
    columns: list[Column]
    cancelled: list[Appointment]


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _grid_range(practice: Practice, local_starts: list[datetime], local_ends: list[datetime]) -> tuple[int, int]:
    """Opening hours, widened to whole hours around any appointment booked outside them."""
    first = _minutes(practice.opens_at)
    last = _minutes(practice.closes_at)
    for start in local_starts:
        first = min(first, start.hour * 60)
    for end in local_ends:
        last = max(last, min(24 * 60, end.hour * 60 + end.minute + 59) // 60 * 60)
    return first - first % 60, last


def _active_appointments(start: datetime, end: datetime, practitioner_ids: list[int]) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(practitioner_id__in=practitioner_ids, starts_at__lt=end, ends_at__gt=start)
        .select_related("client", "appointment_type", "location")
        .only(
            "pk", "practitioner_id", "starts_at", "ends_at", "status",
            "client__first_name", "client__last_name", "client__preferred_name",
            "appointment_type__name", "appointment_type__colour", "location__name",
        )
        .order_by("starts_at")
    )


def _blocks_and_cancelled(appointments, zone: ZoneInfo, key) -> tuple[dict, list, list, list]:
    by_column: dict = defaultdict(list)
    cancelled: list[Appointment] = []
    starts: list[datetime] = []
    ends: list[datetime] = []
    for appointment in appointments:
        start = appointment.starts_at.astimezone(zone)
        end = appointment.ends_at.astimezone(zone)
        appointment.local_start = start
        if appointment.status == Status.CANCELLED:
            cancelled.append(appointment)
            continue
        starts.append(start)
        ends.append(end)
        by_column[key(appointment, start)].append(appointment)
    return by_column, cancelled, starts, ends


def _block(appointment: Appointment, first_minute: int, day_start_local: datetime) -> Block:
    start = appointment.local_start
    end = appointment.ends_at.astimezone(start.tzinfo)
    # Wall-clock minutes, clamped to the day shown, so that a DST day still lines up with its labels.
    start_min = start.hour * 60 + start.minute if start.date() == day_start_local.date() else 0
    end_min = end.hour * 60 + end.minute if end.date() == day_start_local.date() else 24 * 60
    end_min = max(end_min, start_min + 5)
    client = appointment.client
    return Block(
        pk=appointment.pk,
        top=(start_min - first_minute) / SLOT_MINUTES,
        height=(end_min - start_min) / SLOT_MINUTES,
        time=f"{start:%H:%M}–{end:%H:%M}",
        client=f"{client.preferred_name or client.first_name} {client.last_name}",
        type_name=appointment.appointment_type.name,
        status=appointment.status,
        status_label=Status(appointment.status).label,
        colour=appointment.appointment_type.colour,
        location=appointment.location.name,
    )


def _slots(*, day: date, practitioner_id: int, first: int, last: int, shifts: list[WorkingHours],
           book_url: str) -> list[Slot]:
    spans = [(_minutes(s.starts_at), _minutes(s.ends_at)) for s in shifts]
    prefix = f"{book_url}?practitioner={practitioner_id}&start={day.isoformat()}T"
    slots = []
    for minute in range(first, last, SLOT_MINUTES):
        hhmm = f"{minute // 60:02d}:{minute % 60:02d}"
        off = not any(a <= minute < b for a, b in spans)
        slots.append(Slot(label=hhmm, url=prefix + hhmm, off=off))
    return slots


def _hours(first: int, last: int) -> list[tuple[str, int]]:
    return [(f"{m // 60:02d}:00", (m - first) // SLOT_MINUTES) for m in range(first, last, 60)]


def diary_practitioners(*, day: date, location: Location | None) -> list[Practitioner]:
    practitioners = Practitioner.objects.filter(is_active=True)
    if location is not None:
        practitioners = practitioners.filter(
            Q(default_location=location)
            | Q(working_hours__location=location, working_hours__weekday=day.weekday())
        ).distinct()
    return list(practitioners.order_by("display_name"))


def diary_day(*, practice: Practice, day: date, location: Location | None) -> DiaryGrid:
    zone = practice.zone
    practitioners = diary_practitioners(day=day, location=location)
    ids = [p.pk for p in practitioners]
    start, end = day_bounds(day, zone)
    shifts: dict[int, list[WorkingHours]] = defaultdict(list)
    for shift in WorkingHours.objects.filter(practitioner_id__in=ids, weekday=day.weekday()):
        shifts[shift.practitioner_id].append(shift)
    appointments = list(_active_appointments(start, end, ids))
    by_column, cancelled, starts, ends = _blocks_and_cancelled(
        appointments, zone, key=lambda appointment, _start: appointment.practitioner_id
    )
    first, last = _grid_range(practice, starts, ends)
    day_start_local = datetime.combine(day, time(0), tzinfo=zone)
    book_url = reverse("appointment-new")
    columns = []
    for practitioner in practitioners:
        column = Column(title=practitioner.display_name, subtitle=practitioner.profession,
                        colour=practitioner.colour)
        column.slots = _slots(day=day, practitioner_id=practitioner.pk, first=first, last=last,
                              shifts=shifts[practitioner.pk], book_url=book_url)
        column.blocks = [_block(a, first, day_start_local) for a in by_column[practitioner.pk]]
        columns.append(column)
    return DiaryGrid(hours=_hours(first, last), rows=(last - first) // SLOT_MINUTES, columns=columns,
                     cancelled=cancelled)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def diary_week(*, practice: Practice, practitioner: Practitioner, day: date) -> DiaryGrid:
    zone = practice.zone
    monday = week_start(day)
    days = [monday + timedelta(days=n) for n in range(7)]
    start, _ = day_bounds(monday, zone)
    _, end = day_bounds(days[-1], zone)
    shifts: dict[int, list[WorkingHours]] = defaultdict(list)
    for shift in WorkingHours.objects.filter(practitioner=practitioner):
        shifts[shift.weekday].append(shift)
    appointments = list(_active_appointments(start, end, [practitioner.pk]))
    by_column, cancelled, starts, ends = _blocks_and_cancelled(
        appointments, zone, key=lambda _appointment, local_start: local_start.date()
    )
    first, last = _grid_range(practice, starts, ends)
    book_url = reverse("appointment-new")
    columns = []
    for each in days:
        column = Column(title=f"{each:%a %d %b}", subtitle="", colour=practitioner.colour)
        column.slots = _slots(day=each, practitioner_id=practitioner.pk, first=first, last=last,
                              shifts=shifts[each.weekday()], book_url=book_url)
        day_start_local = datetime.combine(each, time(0), tzinfo=zone)
        column.blocks = [_block(a, first, day_start_local) for a in by_column[each]]
        columns.append(column)
    return DiaryGrid(hours=_hours(first, last), rows=(last - first) // SLOT_MINUTES, columns=columns,
                     cancelled=cancelled)


# Access helpers: views fetch appointments only through these.

def appointment_for_user(user: AbstractBaseUser, pk: int) -> Appointment:
    """Every role may look at any appointment (a practitioner sees colleagues' read-only)."""
    try:
        return Appointment.objects.select_related(
            "client", "practitioner", "location", "appointment_type", "created_by", "updated_by"
        ).get(pk=pk)
    except Appointment.DoesNotExist as exc:
        raise Http404("No such appointment.") from exc


def can_change_appointment(user: AbstractBaseUser, appointment: Appointment) -> bool:
    if roles.can_manage_all_appointments(user):
        return True
    return appointment.practitioner.user_id == user.pk


def appointment_for_change(user: AbstractBaseUser, pk: int) -> Appointment:
    appointment = appointment_for_user(user, pk)
    if not can_change_appointment(user, appointment):
        raise PermissionDenied("Only the appointment's own practitioner or the front desk can change it.")
    return appointment


def bookable_practitioners(user: AbstractBaseUser) -> QuerySet[Practitioner]:
    """Front desk and admins book for anyone; a practitioner books into their own diary."""
    practitioners = Practitioner.objects.filter(is_active=True)
    if roles.can_manage_all_appointments(user):
        return practitioners
    return practitioners.filter(user=user)


def diary_url(day: date, **params) -> str:
    query = {"date": day.isoformat(), **{k: v for k, v in params.items() if v}}
    return f"{reverse('diary')}?{urlencode(query)}"


def week_url(day: date, **params) -> str:
    query = {"date": day.isoformat(), **{k: v for k, v in params.items() if v}}
    return f"{reverse('diary-week')}?{urlencode(query)}"
