"""Reads for the diary. A day costs a fixed number of queries whatever the number of appointments.

The diary is the busiest page of the practice and must stay fast for a full day (20 practitioners x
30 appointments, see `make bench`). So rows are read as plain tuples (no model instances) and
each column's slots and blocks are laid out here as one HTML string by ``scheduling.diary_html``;
the template only places the columns.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from practice import roles
from practice.models import Location, Practice, Practitioner, WorkingHours
from practice.timezones import day_bounds
from scheduling import diary_html
from scheduling.models import APPOINTMENT_LONGEST, Appointment, AppointmentSeries, Status
from telehealth.models import MeetingState, ZoomMeeting

SLOT_MINUTES = diary_html.SLOT_MINUTES
ENTRY_FIELDS = (
    "pk", "practitioner_id", "starts_at", "ends_at", "status", "client__first_name", "client__preferred_name",
    "client__last_name", "appointment_type__name", "appointment_type__colour", "is_telehealth",
    "zoom_meeting__state", "zoom_meeting__last_error", "zoom_meeting__live_state", "zoom_meeting__waiting_since",
    "zoom_meeting__deleted_in_zoom_at", "zoom_meeting__changed_in_zoom_at", "confirmed_at",
)


@dataclass(slots=True)
class DiaryEntry:
    """One appointment as the diary shows it; times are in the practice's zone."""

    pk: int
    practitioner_id: int
    start: datetime
    end: datetime
    status: str
    client_name: str
    type_name: str
    colour: str
    is_telehealth: bool
    zoom_state: str | None
    zoom_error: str | None
    # What Zoom's webhooks reported, as diary_html.zoom_badge takes it (issue 12).
    zoom_live: dict = field(default_factory=dict)
    confirmed: bool = False  # by the client (link or SMS) or the desk for them (issue 11)

    @property
    def status_label(self) -> str:
        return Status(self.status).label


@dataclass
class Column:
    title: str
    subtitle: str
    colour: str
    html: SafeString  # the column's appointment blocks
    hours: str  # its working hours, from which the page script draws its empty slots (diary_html.working_hours)
    practitioner: Practitioner  # the column's owner: in the week view, the same one for every day
    day: date
    bookable: bool  # the user may book here, and move appointments into it
    is_today: bool = False  # the page draws the current-time line across today's columns


@dataclass
class DiaryGrid:
    hours: list[tuple[str, int]]  # ("09:00", row) for the time axis
    rows: int
    columns: list[Column]
    cancelled: list[DiaryEntry]
    scroll_to_row: int = 0  # the row to show first: an hour before now on today, else before the working day
    first_minute: int = 0  # minutes after midnight of the first row, for the page's current-time line

    @property
    def practitioners(self) -> list[Practitioner]:
        """The columns' owners, in order (the phone's column switcher)."""
        return [column.practitioner for column in self.columns]


def _entries(start: datetime, end: datetime, practitioners: QuerySet | list[int] | None, zone,
             **filters) -> list[DiaryEntry]:
    """``practitioners``: their ids, or a query of them (see ``diary_day``), or None for every practitioner."""
    if practitioners is not None:
        filters["practitioner_id__in"] = practitioners
    # The lower bound on starts_at keeps the index scan to the days shown, not every appointment before them.
    rows = _driver_rows(
        Appointment.objects.filter(starts_at__lt=end, starts_at__gt=start - APPOINTMENT_LONGEST, ends_at__gt=start,
                                   **filters)
        .order_by("starts_at")
        .values_list(*ENTRY_FIELDS)
    )
    wall_clock: dict[datetime, datetime] = {}  # a day's appointments share their times: each is converted once

    def local(moment: datetime) -> datetime:
        converted = wall_clock.get(moment)
        if converted is None:
            converted = wall_clock[moment] = _utc(moment).astimezone(zone)
        return converted

    return [
        DiaryEntry(pk, practitioner_id, local(starts_at), local(ends_at), status,
                   f"{preferred or first} {last}", type_name, colour, bool(is_telehealth), zoom_state, zoom_error,
                   _zoom_live(live_state, waiting_since and _utc(waiting_since), deleted_at, changed_at, zone)
                   if live_state or waiting_since or deleted_at or changed_at else {},
                   confirmed_at is not None)
        for (pk, practitioner_id, starts_at, ends_at, status, first, preferred, last, type_name, colour,
             is_telehealth, zoom_state, zoom_error, live_state, waiting_since, deleted_at, changed_at,
             confirmed_at) in rows
    ]


def _driver_rows(rows: QuerySet) -> list[tuple]:
    """A values_list's rows as the database driver gives them, without Django's converters for each value: those
    were a third of the time of a full day's read (80 practitioners). What the driver gives differs from them only
    in booleans (SQLite: 0 or 1) and datetimes (SQLite: naive, in UTC; see ``_utc``).

    On PostgreSQL the timestamps are read by psycopg's own (compiled) loader rather than Django's, which parses each
    one in Python: with 2,400 appointments that was 15 ms. Both give the moment in UTC.
    """
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # e.g. no practitioners to show: Django knows the answer without asking
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            from psycopg.postgres import adapters
            from psycopg.pq import Format

            timestamptz = adapters.types["timestamptz"].oid
            cursor.cursor.adapters.register_loader(timestamptz, adapters.get_loader(timestamptz, Format.TEXT))
        cursor.execute(sql, params)
        return cursor.fetchall()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def zoom_live_of(meeting, zone) -> dict:
    """What Zoom's webhooks reported about one meeting, as the diary's badge takes it."""
    if meeting is None:
        return {}
    return _zoom_live(meeting.live_state, meeting.waiting_since, meeting.deleted_in_zoom_at,
                      meeting.changed_in_zoom_at, zone)


def _zoom_live(live_state, waiting_since, deleted_at, changed_at, zone) -> dict:
    if not (live_state or waiting_since or deleted_at or changed_at):
        return {}  # the usual case: nothing reported by Zoom
    return {"live_state": live_state or "", "waiting_since": waiting_since.astimezone(zone) if waiting_since else None,
            "deleted_in_zoom": deleted_at is not None, "changed_in_zoom": changed_at is not None}


def _grid_range(practice: Practice, entries: list[DiaryEntry]) -> tuple[int, int]:
    """Opening hours, widened to whole hours around any appointment booked outside them."""
    first = practice.opens_at.hour * 60 + practice.opens_at.minute
    last = practice.closes_at.hour * 60 + practice.closes_at.minute
    if entries:
        first = min(first, min(entry.start.hour for entry in entries) * 60)
        latest = max(entry.end.hour * 60 + entry.end.minute for entry in entries)
        last = max(last, min(24 * 60, (latest + 59) // 60 * 60))
    return first - first % 60, last


def _hours(first: int, last: int) -> list[tuple[str, int]]:
    return [(f"{m // 60:02d}:00", (m - first) // SLOT_MINUTES) for m in range(first, last, 60)]


def diary_practitioners(*, day: date, location: Location | None) -> QuerySet[Practitioner]:
    """The day's columns, in order."""
    practitioners = Practitioner.objects.filter(is_active=True)
    if location is not None:
        practitioners = practitioners.filter(
            Q(default_location=location)
            | Q(working_hours__location=location, working_hours__weekday=day.weekday())
        ).distinct()
    return practitioners.order_by("display_name")


def _split(entries: list[DiaryEntry], key) -> tuple[dict, list[DiaryEntry], list[DiaryEntry]]:
    by_column: dict = defaultdict(list)
    active, cancelled = [], []
    for entry in entries:
        if entry.status == Status.CANCELLED:
            cancelled.append(entry)
        else:
            active.append(entry)
            by_column[key(entry)].append(entry)
    return by_column, active, cancelled


def _bookable(user: User, practitioners: list[Practitioner]) -> set[int]:
    """Columns whose empty slots are booking links for this user."""
    if roles.can_manage_all_appointments(user):
        return {p.pk for p in practitioners}
    return {p.pk for p in practitioners if p.user_id == user.pk}


def diary_day(*, practice: Practice, day: date, location: Location | None, user: User) -> DiaryGrid:
    zone = practice.zone
    columns_query = diary_practitioners(day=day, location=location)
    practitioners = list(columns_query)
    # The shifts and appointments are read for the same practitioners by a subquery, not a list of their ids: 80
    # ids as 80 parameters cost 2.3 ms more on PostgreSQL, where psycopg parses again each statement with more than
    # 50 parameters. (A practitioner added between the reads shows an empty column once.)
    ids = columns_query.values("pk")
    start, end = day_bounds(day, zone)
    shifts: dict[int, list[WorkingHours]] = defaultdict(list)
    for shift in WorkingHours.objects.filter(practitioner_id__in=ids, weekday=day.weekday()):
        shifts[shift.practitioner_id].append(shift)
    by_column, active, cancelled = _split(_entries(start, end, ids, zone), key=lambda e: e.practitioner_id)
    first, last = _grid_range(practice, active)
    layout = diary_html.Layout(first=first, appointment_url=_appointment_base())
    bookable = _bookable(user, practitioners)
    now = timezone.localtime(timezone.now(), zone)
    columns = [
        Column(title=p.display_name, subtitle=p.profession, colour=p.colour,
               html=layout.column(day=day, entries=by_column[p.pk]),
               hours=diary_html.working_hours(shifts[p.pk]),
               practitioner=p, day=day, bookable=p.pk in bookable, is_today=day == now.date())
        for p in practitioners
    ]
    return DiaryGrid(hours=_hours(first, last), rows=(last - first) // SLOT_MINUTES, columns=columns,
                     cancelled=cancelled, first_minute=first,
                     scroll_to_row=_scroll_to_row(first, active, shifts.values(), now=now if day == now.date()
                                                  else None))


def _scroll_to_row(first: int, entries: list[DiaryEntry], shift_lists, *, now: datetime | None) -> int:
    """Today opens an hour before now; another day an hour before its first appointment or working hour."""
    if now is not None:
        return max(0, (now.hour * 60 + now.minute - 60 - first) // SLOT_MINUTES)
    starts = [e.start.hour * 60 + e.start.minute for e in entries]
    starts += [s.starts_at.hour * 60 + s.starts_at.minute for shifts in shift_lists for s in shifts]
    if not starts:
        return 0
    return max(0, (min(starts) - 60 - first) // SLOT_MINUTES)


# A webhook applied while a poll ran may commit with an earlier time than the poll's answer: ask a little further back
# (sending a badge twice is harmless).
ZOOM_LIVE_OVERLAP = timedelta(seconds=5)


def diary_zoom_changes(*, practice: Practice, first_day: date, last_day: date, since: datetime) -> list[DiaryEntry]:
    """Telehealth appointments of these days whose meeting a Zoom webhook changed since then (one query).

    The diary's live poll (issue 12) sends only these blocks' badges, so a full day costs nothing to keep current.
    """
    zone = practice.zone
    start, _ = day_bounds(first_day, zone)
    _, end = day_bounds(last_day, zone)
    return _entries(start, end, None, zone, is_telehealth=True,
                    zoom_meeting__zoom_event_applied_at__gt=since - ZOOM_LIVE_OVERLAP)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def diary_week(*, practice: Practice, practitioner: Practitioner, day: date, user: User) -> DiaryGrid:
    zone = practice.zone
    monday = week_start(day)
    days = [monday + timedelta(days=n) for n in range(7)]
    start, _ = day_bounds(monday, zone)
    _, end = day_bounds(days[-1], zone)
    shifts: dict[int, list[WorkingHours]] = defaultdict(list)
    for shift in WorkingHours.objects.filter(practitioner=practitioner):
        shifts[shift.weekday].append(shift)
    by_column, active, cancelled = _split(_entries(start, end, [practitioner.pk], zone),
                                          key=lambda e: e.start.date())
    first, last = _grid_range(practice, active)
    layout = diary_html.Layout(first=first, appointment_url=_appointment_base())
    bookable = bool(_bookable(user, [practitioner]))
    now = timezone.localtime(timezone.now(), zone)
    columns = [
        Column(title=f"{each:%a %d %b}", subtitle="", colour=practitioner.colour,
               html=layout.column(day=each, entries=by_column[each]),
               hours=diary_html.working_hours(shifts[each.weekday()]),
               practitioner=practitioner, day=each, bookable=bookable, is_today=each == now.date())
        for each in days
    ]
    # The week of today opens at now; another week at the top, as before.
    return DiaryGrid(hours=_hours(first, last), rows=(last - first) // SLOT_MINUTES, columns=columns,
                     cancelled=cancelled, first_minute=first,
                     scroll_to_row=_scroll_to_row(first, [], [], now=now) if now.date() in days else 0)


def _appointment_base() -> str:
    """"/appointments/": blocks append "<pk>/" rather than reversing a URL each."""
    return reverse("appointment-detail", args=[0]).removesuffix("0/")


# Access helpers: views fetch appointments only through these.

def appointment_for_user(user: User, pk: int) -> Appointment:
    """Every role may look at any appointment (a practitioner sees colleagues' read-only)."""
    try:
        # Only what the pages read: each table more in this join cost PostgreSQL ~0.5 ms of planning.
        # ``may_have_meetings_deleting``: whether the panel must look for earlier meetings still to be deleted in
        # Zoom (telehealth_tags.telehealth_status); almost never, and asking here saves the panel a query.
        return Appointment.objects.select_related(
            "client", "practitioner", "location", "appointment_type", "zoom_meeting"
        ).annotate(may_have_meetings_deleting=Exists(ZoomMeeting.objects.filter(
            appointment_pk=OuterRef("pk"), state=MeetingState.PENDING_DELETE))).get(pk=pk)
    except Appointment.DoesNotExist as exc:
        raise Http404("No such appointment.") from exc


def can_change_appointment(user: User, appointment: Appointment) -> bool:
    if roles.can_manage_all_appointments(user):
        return True
    return appointment.practitioner.user_id == user.pk


def appointment_for_change(user: User, pk: int) -> Appointment:
    appointment = appointment_for_user(user, pk)
    if not can_change_appointment(user, appointment):
        raise PermissionDenied("Only the appointment's own practitioner or the front desk can change it.")
    return appointment


def _is_own(user: User, appointment: Appointment) -> bool:
    return appointment.practitioner.user_id == user.pk


def appointment_for_zoom_details(user: User, pk: int) -> Appointment:
    """Join details: front desk, admins and the appointment's own practitioner; 404 for anyone else."""
    appointment = appointment_for_user(user, pk)
    if appointment.zoom_meeting is None or not appointment.is_telehealth:
        raise Http404("This appointment has no Zoom meeting.")
    if not (roles.can_manage_all_appointments(user) or _is_own(user, appointment)):
        raise Http404("No such Zoom meeting.")
    return appointment


def can_start_meeting(user: User, appointment: Appointment) -> bool:
    """Only the host (the appointment's practitioner) and admins ever reach a start link (R17)."""
    return _is_own(user, appointment) or roles.is_practice_admin(user)


def appointment_for_host(user: User, pk: int) -> Appointment:
    appointment = appointment_for_zoom_details(user, pk)
    if not can_start_meeting(user, appointment):
        raise Http404("No such Zoom meeting.")
    return appointment


def bookable_practitioners(user: User) -> QuerySet[Practitioner]:
    """Front desk and admins book for anyone; a practitioner books into their own diary."""
    practitioners = Practitioner.objects.filter(is_active=True)
    if roles.can_manage_all_appointments(user):
        return practitioners
    return practitioners.filter(user=user)


def series_summary(appointment: Appointment) -> str:
    """"Every 2 weeks · 3 of 6" for an appointment in a series, counting the series' appointments not cancelled."""
    series = AppointmentSeries.objects.only("interval_weeks").get(appointments=appointment)
    weeks = series.interval_weeks
    every = "Every week" if weeks == 1 else f"Every {weeks} weeks"
    booked = list(Appointment.objects.filter(series=series).exclude(status=Status.CANCELLED)
                  .order_by("starts_at").values_list("pk", flat=True))
    if appointment.pk not in booked:
        return f"{every} · {len(booked)} booked"
    return f"{every} · {booked.index(appointment.pk) + 1} of {len(booked)}"


def diary_url(day: date, **params) -> str:
    query = {"date": day.isoformat(), **{k: v for k, v in params.items() if v}}
    return f"{reverse('diary')}?{urlencode(query)}"


def week_url(day: date, **params) -> str:
    query = {"date": day.isoformat(), **{k: v for k, v in params.items() if v}}
    return f"{reverse('diary-week')}?{urlencode(query)}"


def day_sheet(*, practice: Practice, practitioner: Practitioner, day: date) -> list[Appointment]:
    """The practitioner's appointments on one day, in time order, for the printable day sheet: one query."""
    start, end = day_bounds(day, practice.zone)
    return list(
        Appointment.objects.filter(practitioner=practitioner, starts_at__lt=end, ends_at__gt=start)
        .exclude(status=Status.CANCELLED)
        .select_related("client", "appointment_type", "location")
        .order_by("starts_at")
    )


def client_cancels_needing_attention():
    """Appointments the client cancelled from their page that the desk has not seen, while the freed time is
    still ahead (Needs attention: the desk may offer the slot to someone else). A past time ages out."""
    return Appointment.objects.filter(client_cancel_unseen_since__isnull=False, status=Status.CANCELLED,
                                      starts_at__gt=timezone.now())
