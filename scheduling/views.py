from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from practice import roles
from practice.audit import audit_history
from practice.errors import ApplicationError
from practice.http import AuthedRequest, done, render_page, role_required
from practice.models import Location, Practice, Practitioner
from practice.selectors import client_search, client_search_chosen
from practice.timezones import parse_day
from scheduling import diary_html, selectors, services
from scheduling.forms import AppointmentTypeForm, BookingForm, CancelForm, MoveForm, StatusForm
from scheduling.models import Appointment, AppointmentType, Status
from telehealth import selectors as telehealth_selectors
from telehealth import services as telehealth_services
from telehealth.models import MeetingState


def _day_param(request: AuthedRequest, zone) -> date:
    return parse_day(request.GET.get("date", ""), timezone.localdate(timezone=zone))


def _int_param(request: AuthedRequest, name: str) -> int | None:
    """A row id from the query string, or None: str.isdigit() also accepts '²', and ids fit in 63 bits."""
    value = request.GET.get(name, "")
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        return None
    return int(value)


@require_GET
def diary(request: AuthedRequest) -> HttpResponse:
    practice = request.practice
    day = _day_param(request, practice.zone)
    locations = list(Location.objects.filter(is_active=True))
    location_id = _int_param(request, "location")
    location = next((loc for loc in locations if loc.pk == location_id), None)
    grid = selectors.diary_day(practice=practice, day=day, location=location, user=request.user)
    today = timezone.localdate(timezone=practice.zone)
    return render(request, "scheduling/diary.html", {
        "grid": grid, "day": day, "today": today, "locations": locations, "location": location,
        "view": "day", "zoom_live_url": _zoom_live_url(day, day) if day == today else "",
        "open_url": reverse("appointment-detail", args=[opened]) if (opened := _int_param(request, "open")) else "",
        "prev_url": selectors.diary_url(day - timedelta(days=1), location=location_id),
        "next_url": selectors.diary_url(day + timedelta(days=1), location=location_id),
        "today_url": selectors.diary_url(today, location=location_id),
    })


@require_GET
def diary_week(request: AuthedRequest) -> HttpResponse:
    practice = request.practice
    day = _day_param(request, practice.zone)
    practitioners = list(Practitioner.objects.filter(is_active=True))
    wanted = _int_param(request, "practitioner")
    own = next((p for p in practitioners if p.user_id == request.user.pk), None)
    practitioner = next((p for p in practitioners if p.pk == wanted), None) or own or next(iter(practitioners), None)
    grid = (selectors.diary_week(practice=practice, practitioner=practitioner, day=day, user=request.user)
            if practitioner else None)
    today = timezone.localdate(timezone=practice.zone)
    base = {"practitioner": practitioner.pk if practitioner else None}
    monday = selectors.week_start(day)
    return render(request, "scheduling/diary.html", {
        "grid": grid, "day": day, "today": today, "practitioners": practitioners, "practitioner": practitioner,
        "view": "week",
        "zoom_live_url": _zoom_live_url(today, today) if selectors.week_start(today) == monday else "",
        "prev_url": selectors.week_url(day - timedelta(days=7), **base),
        "next_url": selectors.week_url(day + timedelta(days=7), **base),
        "today_url": selectors.week_url(today, **base),
    })


def _zoom_live_url(first_day: date, last_day: date, since: datetime | None = None) -> str:
    moment = since or timezone.now()
    query = urlencode({"from": first_day.isoformat(), "to": last_day.isoformat(),
                       "since": int(moment.timestamp() * 1000)})
    return f"{reverse('diary-zoom-live')}?{query}"


# Days one live poll may cover: a week view at most.
ZOOM_LIVE_MAX_DAYS = 7


@require_GET
def diary_zoom_live(request: AuthedRequest) -> HttpResponse:
    """The diary's live poll (issue 12): the badges of blocks whose meeting a Zoom webhook changed since ``since``.

    One query whatever the size of the day. The answer is the poller itself with a later ``since`` (it replaces
    itself) and each changed block's badges as an htmx out-of-band swap.
    """
    try:
        first_day = date.fromisoformat(request.GET.get("from", ""))
        last_day = date.fromisoformat(request.GET.get("to", ""))
        since_ms = int(request.GET.get("since", ""))
        since = datetime.fromtimestamp(since_ms / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return HttpResponseBadRequest("from, to (dates) and since (ms) are required.")
    if not 0 <= (last_day - first_day).days < ZOOM_LIVE_MAX_DAYS:
        return HttpResponseBadRequest("At most a week at a time.")
    now = timezone.now()
    entries = selectors.diary_zoom_changes(practice=request.practice, first_day=first_day, last_day=last_day,
                                           since=since)
    layout = diary_html.Layout(first=0, last=0, book_url="",
                               appointment_url=reverse("appointment-detail", args=[0]).removesuffix("0/"))
    badges = "".join(f'<span class="badges" id="zb{entry.pk}" hx-swap-oob="true">{layout.badge(entry)}</span>'
                     for entry in entries if entry.status != Status.CANCELLED)
    return render(request, "scheduling/_zoom_live.html", {
        "zoom_live_url": _zoom_live_url(first_day, last_day, now), "badges": mark_safe(badges),  # noqa: S308
    })


@require_GET
def day_sheet(request: AuthedRequest) -> HttpResponse:
    """A printable list of one practitioner's day: time, client, type, location, telehealth."""
    practice = request.practice
    day = _day_param(request, practice.zone)
    practitioners = list(Practitioner.objects.filter(is_active=True).order_by("display_name"))
    wanted = _int_param(request, "practitioner")
    own = next((p for p in practitioners if p.user_id == request.user.pk), None)
    practitioner = next((p for p in practitioners if p.pk == wanted), None) or own or next(iter(practitioners), None)
    rows = selectors.day_sheet(practice=practice, practitioner=practitioner, day=day) if practitioner else []
    return render(request, "scheduling/day_sheet.html", {
        "day": day, "practitioners": practitioners, "practitioner": practitioner, "rows": rows,
        "zone": practice.zone, "diary_url": selectors.diary_url(day),
    })


def _booking_initial(request: AuthedRequest, practice: Practice, practitioners) -> dict:
    initial: dict = {}
    practitioner = practitioners.filter(pk=_int_param(request, "practitioner") or 0).first() or (
        practitioners.first() if practitioners.count() == 1 else None)
    if practitioner is not None:
        initial["practitioner"] = practitioner
        if practitioner.default_location_id:
            initial["location"] = practitioner.default_location_id
    try:
        start = datetime.fromisoformat(request.GET.get("start", ""))
        initial["date"], initial["start_time"] = start.date(), start.time()
    except ValueError:
        initial["date"] = timezone.localdate(timezone=practice.zone)
    # Opened with a type (?type=<pk>): its "usually telehealth" pre-ticks Telehealth, as the page script does.
    appointment_type = AppointmentType.objects.filter(is_active=True, pk=_int_param(request, "type") or 0).first()
    if appointment_type is not None:
        initial["appointment_type"] = appointment_type
        initial["is_telehealth"] = appointment_type.usually_telehealth
    return initial


def appointment_new(request: AuthedRequest) -> HttpResponse:
    practice = request.practice
    practitioners = selectors.bookable_practitioners(request.user)
    query, chosen = "", None
    if request.method == "POST" and not ("find" in request.POST or "change_client" in request.POST):
        form = BookingForm(request.POST, practice=practice, practitioners=practitioners)
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = services.appointment_book(
                    actor=request.user, client=data["client"],
                    new_client=None if data["client"] else form.new_client_fields,
                    practitioner=data["practitioner"], location=data["location"],
                    appointment_type=data["appointment_type"], starts_at=data["starts_at"],
                    ends_at=data["ends_at"], notes=data["notes"], is_telehealth=data["is_telehealth"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                appointment = result.appointment
                messages.success(request, f"Booked {appointment.client} with {appointment.practitioner} "
                                          f"at {timezone.localtime(appointment.starts_at, practice.zone):%H:%M}.")
                for warning in result.warnings:
                    messages.warning(request, warning)
                _warn_if_zoom_not_ready(request, appointment)
                return done(request, selectors.diary_url(data["date"]))
        chosen = request.POST.get("client")
    elif request.method == "POST":
        # "Find" (client search without JavaScript) or "Change" client: redisplay what was typed, no errors.
        initial = request.POST.dict()
        if "change_client" in initial:
            initial.pop("client", None)
        form = BookingForm(initial=initial, practice=practice, practitioners=practitioners)
        query, chosen = initial.get("client_query", "").strip(), initial.get("client")
    else:
        form = BookingForm(initial=_booking_initial(request, practice, practitioners), practice=practice,
                           practitioners=practitioners)
    return render_page(request, "scheduling/_booking_form.html", {
        "form": form, "title": "New appointment",
        "matches": client_search(query)[:8] if query and not chosen else [],
        "query": query, "chosen_client": client_search_chosen(chosen),
    })


@require_GET
def appointment_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    appointment = selectors.appointment_for_user(request.user, pk)
    part = request.GET.get("part")
    # The panel's telehealth box and the diary block's Zoom badge poll these while Zoom work is under way.
    if part == "telehealth":
        # Once settled, the box reloads the whole panel once, so what depends on the meeting (send buttons) shows.
        return render(request, "scheduling/_telehealth_section.html",
                      {**_detail_context(request, appointment), "polled": True})
    if part == "zoom-badge":
        meeting = appointment.zoom_meeting
        return HttpResponse(diary_html.zoom_badge(
            is_telehealth=appointment.is_telehealth and not appointment.is_cancelled,
            state=meeting.state if meeting else None, error=meeting.last_error if meeting else None,
            poll_url=f"{reverse('appointment-detail', args=[appointment.pk])}?part=zoom-badge",
            **selectors.zoom_live_of(meeting, request.practice.zone)))
    return render_page(request, "scheduling/_appointment_detail.html", _detail_context(request, appointment))


def _detail_context(request: AuthedRequest, appointment, *, move_form: MoveForm | None = None) -> dict:
    practice = request.practice
    can_change = selectors.can_change_appointment(request.user, appointment)
    local_start = timezone.localtime(appointment.starts_at, practice.zone)
    context = {
        "appointment": appointment, "title": f"{appointment.client} · {local_start:%a %d %b %H:%M}",
        "local_start": local_start, "local_end": timezone.localtime(appointment.ends_at, practice.zone),
        "can_change": can_change, "history": audit_history(appointment)[:50],
        "can_view_zoom": can_change or roles.can_manage_all_appointments(request.user),
        "is_future": appointment.starts_at > timezone.now(),
        "diary_url": selectors.diary_url(local_start.date()),
    }
    if can_change:
        context["move_form"] = move_form or MoveForm(
            practice=practice, appointment=appointment,
            practitioners=selectors.bookable_practitioners(request.user),
            initial={"practitioner": appointment.practitioner_id, "location": appointment.location_id,
                     "date": local_start.date(), "start_time": local_start.time(),
                     "duration": int(appointment.duration.total_seconds() // 60)},
        )
        context["status_form"] = StatusForm(initial={"status": appointment.status})
        context["cancel_form"] = CancelForm()
    return context


def _warn_if_zoom_not_ready(request: AuthedRequest, appointment) -> None:
    """The Zoom work runs on a worker; say where it stands now: under way, retrying (why), or failed (why)."""
    if appointment.zoom_meeting_id is None:
        return
    meeting = telehealth_selectors.meeting_get(appointment.zoom_meeting_id)
    if meeting.state == MeetingState.PENDING_CREATE and not meeting.last_error:
        messages.info(request, "The Zoom meeting is being created; the appointment shows it when it is ready.")
    elif meeting.state == MeetingState.PENDING_CREATE:
        messages.warning(request, f"Zoom could not create the meeting yet ({meeting.last_error}). The appointment is "
                                  "saved and the meeting will be retried automatically.")
    elif meeting.state == MeetingState.FAILED:
        # Not "Zoom refused": the reason may be that Zoom never answered.
        messages.error(request, f"The Zoom meeting could not be created: {meeting.last_error} The appointment is "
                                "saved without a working Zoom meeting; see it on the appointment.")


def _act(request: AuthedRequest, pk: int, action) -> HttpResponse:
    """Run one service on an appointment the user may change; errors come back on the detail panel."""
    appointment = selectors.appointment_for_change(request.user, pk)
    try:
        message = action(appointment)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        context = _detail_context(request, appointment)
        return render_page(request, "scheduling/_appointment_detail.html", context)
    messages.success(request, message)
    appointment.refresh_from_db()
    return done(request, selectors.diary_url(timezone.localtime(appointment.starts_at).date()))


@require_POST
def appointment_move(request: AuthedRequest, pk: int) -> HttpResponse:
    appointment = selectors.appointment_for_change(request.user, pk)
    form = MoveForm(request.POST, practice=request.practice, appointment=appointment,
                    practitioners=selectors.bookable_practitioners(request.user))
    if not form.is_valid():
        return render_page(request, "scheduling/_appointment_detail.html",
                           _detail_context(request, appointment, move_form=form))

    data = form.cleaned_data
    try:
        result = services.appointment_move(
            actor=request.user, appointment=appointment, starts_at=data["starts_at"], ends_at=data["ends_at"],
            practitioner=data["practitioner"], location=data["location"],
        )
    except ApplicationError as exc:
        form.add_error(None, exc.message)  # shown on the open move form, with what was typed
        return render_page(request, "scheduling/_appointment_detail.html",
                           _detail_context(request, appointment, move_form=form))
    messages.success(request, "Appointment moved.")
    for warning in result.warnings:
        messages.warning(request, warning)
    if result.telehealth == services.TelehealthChange.RECREATED:
        # R7: say what changed for the client, and offer to send the new details; nothing is sent automatically.
        # The worker may not have made the new meeting yet: "was re-created" only once it exists.
        meeting = result.appointment.zoom_meeting
        done_yet = meeting is not None and telehealth_selectors.meeting_get(meeting.pk).state == MeetingState.ACTIVE
        if done_yet:
            messages.info(request, "The Zoom meeting was re-created for the new time. The old link, meeting ID and "
                                   "passcode no longer work. Send the new details to the client:",
                          extra_tags=f"zoom-recreated appointment-{result.appointment.pk}")
        else:
            messages.info(request, "The Zoom meeting is being re-created for the new time. The old link, meeting ID "
                                   "and passcode no longer work. Once the new meeting is ready, send its details to "
                                   "the client from the appointment.")
            _warn_if_zoom_not_ready(request, result.appointment)
    elif result.telehealth == services.TelehealthChange.REMOVED:
        messages.warning(request, "Telehealth is not supported when an appointment moves to another practitioner: "
                                  "the Zoom meeting was deleted and Telehealth unticked. The client was not notified. "
                                  f"The location is now {result.appointment.location}.")
    return done(request, selectors.diary_url(timezone.localtime(result.appointment.starts_at).date()))


@require_POST
def appointment_status(request: AuthedRequest, pk: int) -> HttpResponse:
    form = StatusForm(request.POST)

    def change(appointment) -> str:
        if not form.is_valid():
            raise ApplicationError("Choose a status.")
        status = form.cleaned_data["status"]
        services.appointment_set_status(actor=request.user, appointment=appointment, status=status)
        return f"Status set to {Status(status).label}."

    return _act(request, pk, change)


@require_POST
def appointment_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""

    def cancel(appointment) -> str:
        services.appointment_cancel(actor=request.user, appointment=appointment, reason=reason)
        return "Appointment cancelled. The time is free to book again."

    return _act(request, pk, cancel)


@require_POST
def appointment_reinstate(request: AuthedRequest, pk: int) -> HttpResponse:
    def reinstate(appointment) -> str:
        services.appointment_reinstate(actor=request.user, appointment=appointment)
        return "Appointment reinstated."

    return _act(request, pk, reinstate)


@require_POST
def appointment_telehealth_add(request: AuthedRequest, pk: int) -> HttpResponse:
    def add(appointment) -> str:
        services.appointment_telehealth_add(actor=request.user, appointment=appointment)
        return "Telehealth ticked: the Zoom meeting is being created."

    return _act(request, pk, add)


@require_POST
def appointment_telehealth_remove(request: AuthedRequest, pk: int) -> HttpResponse:
    def remove(appointment) -> str:
        services.appointment_telehealth_remove(actor=request.user, appointment=appointment)
        return "Telehealth deleted: the Zoom meeting is removed. The appointment is still booked and the client " \
               "was not notified."

    return _act(request, pk, remove)


@require_POST
def appointment_zoom_restore(request: AuthedRequest, pk: int) -> HttpResponse:
    """Restore a meeting changed in Zoom to the appointment's time and the security settings (issue 12)."""
    def restore(appointment) -> str:
        if appointment.zoom_meeting is None or not appointment.is_telehealth:
            raise ApplicationError("This appointment has no Zoom meeting.")
        telehealth_services.meeting_restore(actor=request.user, meeting=appointment.zoom_meeting)
        return "The Zoom meeting was restored to the appointment's time and settings."

    return _act(request, pk, restore)


@require_GET
def zoom_details(request: AuthedRequest, pk: int) -> HttpResponse:
    """View Zoom Details (R17): join details for the desk; Start meeting for the host and admins."""
    appointment = selectors.appointment_for_zoom_details(request.user, pk)
    meeting = appointment.zoom_meeting
    if meeting is None:
        raise Http404("This appointment has no Zoom meeting.")
    return render_page(request, "scheduling/_zoom_details.html", {
        "appointment": appointment, "meeting": meeting,
        "title": "Zoom details", "local_start": timezone.localtime(meeting.starts_at),
        "can_start": selectors.can_start_meeting(request.user, appointment),
        "close_url": selectors.diary_url(timezone.localtime(appointment.starts_at).date()),
    })


@require_GET
def zoom_start(request: AuthedRequest, pk: int) -> HttpResponse:
    """Start meeting: a fresh host link from Zoom, never stored, cached or passed on as a referrer."""
    appointment = selectors.appointment_for_host(request.user, pk)
    if appointment.zoom_meeting is None:
        raise Http404("This appointment has no Zoom meeting.")
    try:
        start_url = telehealth_services.meeting_start_url(actor=request.user, meeting=appointment.zoom_meeting)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        response = redirect(reverse("appointment-zoom", args=[pk]))
    else:
        response = redirect(start_url)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


# Options → Appointment types -----------------------------------------------------------------------------------

admin_only = role_required(roles.is_practice_admin)


@require_GET
@admin_only
def options_appointment_types(request: AuthedRequest) -> HttpResponse:
    uses = dict(Appointment.objects.values_list("appointment_type").annotate(n=Count("pk")).order_by())
    types = [(t, uses.get(t.pk, 0)) for t in AppointmentType.objects.all()]
    return render(request, "scheduling/options_appointment_types.html", {"types": types,
                                                                          "title": "Appointment types"})


def _type_form_failed(form: AppointmentTypeForm, exc: ApplicationError) -> None:
    """The service's refusal on the field it is about, or above the form."""
    errors = exc.extra.get("errors") or {}
    placed = False
    for name, field_errors in errors.items():
        if name in form.fields:
            for error in field_errors:
                form.add_error(name, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


@admin_only
def options_appointment_type_new(request: AuthedRequest) -> HttpResponse:
    form = AppointmentTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.appointment_type_create(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            _type_form_failed(form, exc)
        else:
            messages.success(request, f"Appointment type {created.name} added.")
            return done(request, reverse("options-appointment-types"))
    return render(request, "scheduling/options_appointment_type_form.html",
                  {"form": form, "title": "New appointment type"})


@admin_only
def options_appointment_type_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    appointment_type = get_object_or_404(AppointmentType, pk=pk)
    form = AppointmentTypeForm(request.POST or None, instance=appointment_type)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.appointment_type_update(actor=request.user, appointment_type=appointment_type,
                                                     **form.cleaned_data)
        except ApplicationError as exc:
            _type_form_failed(form, exc)
        else:
            messages.success(request, f"Appointment type {saved.name} saved.")
            return done(request, reverse("options-appointment-types"))
    in_use = Appointment.objects.filter(appointment_type=appointment_type).count()
    return render(request, "scheduling/options_appointment_type_form.html",
                  {"form": form, "title": "Edit appointment type", "appointment_type": appointment_type,
                   "in_use": in_use})
