from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from practice import roles
from practice.audit import audit_history
from practice.errors import ApplicationError
from practice.http import AuthedRequest, done, render_page, role_required
from practice.models import Location, Practice, Practitioner
from practice.selectors import client_matches, client_possible_duplicates, client_search_chosen
from practice.timezones import parse_day
from scheduling import diary_html, selectors, services
from scheduling.forms import AppointmentTypeForm, BookingForm, CancelForm, MoveForm, SeriesScope, StatusForm
from scheduling.models import Appointment, AppointmentType, ConfirmedVia, Status
from scheduling.templatetags.scheduling_tags import UNDO_TAG
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
        "view": "day", "shown": _phone_column(request, grid),
        "zoom_live_url": _zoom_live_url(day, day) if day == today else "",
        "own_practitioner": next((c.practitioner for c in grid.columns if c.practitioner.user_id == request.user.pk),
                                 None),
        "open_url": reverse("appointment-detail", args=[opened]) if (opened := _int_param(request, "open")) else "",
        "prev_url": selectors.diary_url(day - timedelta(days=1), location=location_id),
        "next_url": selectors.diary_url(day + timedelta(days=1), location=location_id),
        "today_url": selectors.diary_url(today, location=location_id),
    })


DIARY_PRACTITIONER = "diary_practitioner"


def _phone_column(request: AuthedRequest, grid: selectors.DiaryGrid) -> Practitioner | None:
    """The one practitioner a phone shows in the day view (the page shows every column on larger screens).

    The ?practitioner= switcher's choice, kept in the session so that booking or paging a day comes back to the
    same column; otherwise a practitioner's own column; otherwise the first. Costs no query: the columns are
    already read, and the session is only written when the choice changes.
    """
    practitioners = [column.practitioner for column in grid.columns]
    wanted = _int_param(request, "practitioner")
    chosen = next((p for p in practitioners if p.pk == wanted), None)
    if chosen is not None:
        if request.session.get(DIARY_PRACTITIONER) != chosen.pk:
            request.session[DIARY_PRACTITIONER] = chosen.pk
        return chosen
    remembered = request.session.get(DIARY_PRACTITIONER)
    own = next((p for p in practitioners if p.user_id == request.user.pk), None)
    return (next((p for p in practitioners if p.pk == remembered), None) or own
            or next(iter(practitioners), None))


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
        "own_practitioner": own if practitioner == own else None,
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
    layout = diary_html.Layout(first=0, appointment_url=reverse("appointment-detail", args=[0]).removesuffix("0/"))
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
    if appointment_type is None:
        # A practice with one type has nothing to choose: one keystroke less for every booking.
        only = list(AppointmentType.objects.filter(is_active=True)[:2])
        appointment_type = only[0] if len(only) == 1 else None
    if appointment_type is not None:
        initial["appointment_type"] = appointment_type
        initial["is_telehealth"] = appointment_type.usually_telehealth
    return initial


# Buttons that redisplay the booking form with what was typed, booking nothing: "Find" (client search without
# JavaScript), "Change" client, and "Change" on the list of a repeat's dates.
REDISPLAY_BUTTONS = ("find", "change_client", "use_client", "edit_repeat")
# Posted by the repeat's list of dates, not carried back into it.
SERIES_CONFIRM_FIELDS = ("csrfmiddlewaretoken", "series_dates", "series_confirm", "edit_repeat")


def _series_args(form: BookingForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "practitioner": data["practitioner"], "location": data["location"],
        "appointment_type": data["appointment_type"], "first_day": data["date"], "start_time": data["start_time"],
        "minutes": int((data["ends_at"] - data["starts_at"]).total_seconds() // 60), "rule": data["repeat"],
        "is_telehealth": data["is_telehealth"],
    }


def _posted_days(request: AuthedRequest) -> list[date]:
    days = []
    for value in request.POST.getlist("series_dates"):
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            continue  # not a date this page wrote; only the series' own dates can be booked anyway
    return days


def _repeat_step(request: AuthedRequest, form: BookingForm) -> HttpResponse | None:
    """A repeat: first the list of dates with their clashes; once confirmed, book the free ones only.

    None when the service refused the whole series (the reason is then on the form).
    """
    data, zone, args = form.cleaned_data, request.practice.zone, _series_args(form)
    try:
        if "series_confirm" in request.POST:
            outcome = services.series_book(
                actor=request.user, client=data["client"],
                new_client=None if data["client"] else form.new_client_fields,
                days=_posted_days(request), notes=data["notes"], **args)
            if outcome.booked:
                _report_series(request, form, outcome, posted=set(_posted_days(request)))
                first = outcome.booked[0]
                return done(request, selectors.diary_url(timezone.localtime(first.starts_at, zone).date(),
                                                          open=first.pk))
            # Each skipped date says why (taken since, a daylight-saving gap, the Zoom user busy…).
            messages.error(request, "Nothing was booked: " + "; ".join(
                f"{item.day:%a %d %b} ({' '.join(item.clashes)})" for item in outcome.skipped)
                + ". The list below is up to date.")
        plan = services.series_plan(**args)
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return None
    client = data["client"]
    free = [item for item in plan if item.is_free]
    return render_page(request, "scheduling/_series_confirm.html", {
        "title": "Repeat booking: check the dates", "plan": plan, "free_count": len(free),
        "client_name": str(client) if client else " ".join(
            (form.new_client_fields["first_name"], form.new_client_fields["last_name"])),
        "data": data, "minutes": args["minutes"],
        "carried": [(name, value) for name, values in request.POST.lists() if name not in SERIES_CONFIRM_FIELDS
                    for value in values],
    })


def _report_series(request: AuthedRequest, form: BookingForm, outcome: services.SeriesBooking, *,
                   posted: set[date]) -> None:
    """Say what was booked, which dates were not (listed as clashes, or taken since), and what Zoom is doing."""
    zone, data = request.practice.zone, form.cleaned_data
    booked = outcome.booked
    first, last = (timezone.localtime(appointment.starts_at, zone) for appointment in (booked[0], booked[-1]))
    weeks = data["repeat"].interval_weeks
    every = "every week" if weeks == 1 else f"every {weeks} weeks"
    messages.success(request, f"Booked {len(booked)} appointment{pluralize(len(booked))} for {booked[0].client} "
                              f"with {booked[0].practitioner}, {every}: "
                              f"{first:%a %d %b} to {last:%a %d %b %Y}, at {first:%H:%M}.")
    listed = [day for day in data["repeat"].days(data["date"]) if day not in posted]
    if listed:
        messages.warning(request, "Not booked, as listed before booking: "
                                  f"{', '.join(f'{day:%a %d %b}' for day in listed)}.")
    if outcome.skipped:
        messages.warning(request, "Taken since the list was shown, so not booked: " + "; ".join(
            f"{item.day:%a %d %b} ({' '.join(item.clashes)})" for item in outcome.skipped))
    if data["is_telehealth"]:
        messages.info(request, f"A Zoom meeting is being created for each of the {len(booked)} telehealth "
                               "appointments. Send each client the details from the appointment.")


def appointment_new(request: AuthedRequest) -> HttpResponse:
    practice = request.practice
    practitioners = selectors.bookable_practitioners(request.user)
    query, chosen = "", None
    if request.method == "POST" and not any(name in request.POST for name in REDISPLAY_BUTTONS):
        form = BookingForm(request.POST, practice=practice, practitioners=practitioners)
        if form.is_valid() and form.cleaned_data["repeat"] is not None:
            response = _repeat_step(request, form)
            if response is not None:
                return response
        elif form.is_valid():
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
                # The diary opens on the new appointment, so its next step (e.g. Send Zoom details) is one click.
                return done(request, selectors.diary_url(data["date"], open=appointment.pk))
        chosen = request.POST.get("client")
    elif request.method == "POST":
        # "Find" (client search without JavaScript) or "Change" client: redisplay what was typed, no errors.
        initial = request.POST.dict()
        if "change_client" in initial:
            initial.pop("client", None)
        if "use_client" in initial:
            # "use this client" on a possible duplicate: book the existing client instead of adding one.
            initial["client"] = initial.pop("use_client")
            for name in ("new_first_name", "new_last_name", "new_mobile", "new_email", "new_create_anyway"):
                initial.pop(name, None)
        form = BookingForm(initial=initial, practice=practice, practitioners=practitioners)
        query, chosen = initial.get("client_query", "").strip(), initial.get("client")
    else:
        form = BookingForm(initial=_booking_initial(request, practice, practitioners), practice=practice,
                           practitioners=practitioners)
    chosen_client = client_search_chosen(chosen)
    matches, similar = client_matches(query, limit=8) if query and not chosen else ([], False)
    duplicates = []
    if request.method == "POST" and chosen_client is None:
        duplicates = client_possible_duplicates(first_name=request.POST.get("new_first_name", ""),
                                                last_name=request.POST.get("new_last_name", ""),
                                                mobile=request.POST.get("new_mobile", ""))
    form.add_display_hints()
    return render_page(request, "scheduling/_booking_form.html", {
        "form": form, "title": "New appointment", "matches": matches, "similar": similar, "query": query,
        "chosen_client": chosen_client, "duplicates": duplicates, "in_booking": True,
        "anyway_name": "new_create_anyway", "anyway": bool(request.POST.get("new_create_anyway")),
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
        # Without one, the panel's move section asks for its form when opened (appointment_move, GET).
        context["move_form"] = move_form
        context["status_form"] = StatusForm(initial={"status": appointment.status})
        context["cancel_form"] = CancelForm()
    if appointment.series_id:
        context["series_summary"] = selectors.series_summary(appointment)
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
    """Run one service on an appointment the user may change; errors come back on the detail panel.

    ``action`` returns the success message, or the message and its tags (an Undo).
    """
    appointment = selectors.appointment_for_change(request.user, pk)
    try:
        outcome = action(appointment)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        context = _detail_context(request, appointment)
        return render_page(request, "scheduling/_appointment_detail.html", context)
    message, tags = outcome if isinstance(outcome, tuple) else (outcome, "")
    messages.success(request, message, extra_tags=tags)
    appointment.refresh_from_db()
    return done(request, selectors.diary_url(timezone.localtime(appointment.starts_at).date()))


def _move_form_for(request: AuthedRequest, appointment) -> MoveForm:
    """The move form filled in with where the appointment is now."""
    local_start = timezone.localtime(appointment.starts_at, request.practice.zone)
    return MoveForm(practice=request.practice, appointment=appointment,
                    practitioners=selectors.bookable_practitioners(request.user),
                    initial={"practitioner": appointment.practitioner_id, "location": appointment.location_id,
                             "date": local_start.date(), "start_time": local_start.time(),
                             "duration": int(appointment.duration.total_seconds() // 60)})


@require_http_methods(["GET", "POST"])
def appointment_move(request: AuthedRequest, pk: int) -> HttpResponse:
    appointment = selectors.appointment_for_change(request.user, pk)
    if request.method == "GET":
        if appointment.is_cancelled:  # the panel offers no move for it either
            return redirect("appointment-detail", pk=appointment.pk)
        form = _move_form_for(request, appointment)
        # The open section of the panel asks for the form alone; without JavaScript, the whole appointment with it.
        if request.headers.get("HX-Target") == f"move-form-{appointment.pk}":
            return render(request, "scheduling/_move_form.html", {"appointment": appointment, "move_form": form})
        return render_page(request, "scheduling/_appointment_detail.html",
                           _detail_context(request, appointment, move_form=form))
    form = MoveForm(request.POST, practice=request.practice, appointment=appointment,
                    practitioners=selectors.bookable_practitioners(request.user))
    if not form.is_valid():
        return render_page(request, "scheduling/_appointment_detail.html",
                           _detail_context(request, appointment, move_form=form))

    data = form.cleaned_data
    if data.get("scope") == SeriesScope.FOLLOWING and appointment.series_id:
        return _move_following(request, appointment, form)
    try:
        result = services.appointment_move(
            actor=request.user, appointment=appointment, starts_at=data["starts_at"], ends_at=data["ends_at"],
            practitioner=data["practitioner"], location=data["location"],
        )
    except ApplicationError as exc:
        form.add_error(None, exc.message)  # shown on the open move form, with what was typed
        return render_page(request, "scheduling/_appointment_detail.html",
                           _detail_context(request, appointment, move_form=form))
    offer = services.undo_offer_move(actor=request.user, result=result)
    if offer is None:
        messages.success(request, "Nothing to change: the appointment is already there.")
    else:
        messages.success(request, f"Appointment moved. {offer.text}", extra_tags=_undo_tags(offer))
    _say_what_the_move_did(request, result)
    return done(request, _next_url(request) or selectors.diary_url(
        timezone.localtime(result.appointment.starts_at).date()))


def _say_what_the_move_did(request: AuthedRequest, result: services.BookingResult) -> None:
    """Working hours, and R7 or R8 in words, after a move or the undo of one."""
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


def _next_url(request: AuthedRequest) -> str:
    """The page a drag on the diary came from (day or week view), to go back to after saving; only our own."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                                                require_https=request.is_secure()):
        return url
    return ""


def _undo_tags(offer: services.UndoOffer) -> str:
    """The message's tags carry the Undo token to the button that _messages.html draws for it."""
    return f"undo {UNDO_TAG}{offer.token}"


@require_GET
def appointment_move_preview(request: AuthedRequest, pk: int) -> HttpResponse:
    """What a proposed move would do (refusal, warnings, R7/R8, location), saving nothing.

    ``confirm=1`` adds the form that saves it through the move view: the diary's drag and keyboard move show
    it in a dialog. Without it, the panel's move form shows the consequences as the fields change.
    """
    appointment = selectors.appointment_for_change(request.user, pk)
    data = request.GET.copy()
    if not data.get("location"):  # dragging a block changes time and column, not the location
        data["location"] = str(appointment.location_id)
    form = MoveForm(data, practice=request.practice, appointment=appointment,
                    practitioners=selectors.bookable_practitioners(request.user))
    context: dict = {"appointment": appointment, "form": form, "confirm": data.get("confirm") == "1",
                     "next": _next_url(request)}
    if form.is_valid():
        cleaned = form.cleaned_data
        context["preview"] = services.appointment_move_preview(
            appointment=appointment, starts_at=cleaned["starts_at"], ends_at=cleaned["ends_at"],
            practitioner=cleaned["practitioner"], location=cleaned["location"])
        zone = request.practice.zone
        context["new_start"] = timezone.localtime(cleaned["starts_at"], zone)
        context["new_end"] = timezone.localtime(cleaned["ends_at"], zone)
        context["old_start"] = timezone.localtime(appointment.starts_at, zone)
        context["old_end"] = timezone.localtime(appointment.ends_at, zone)
    return render(request, "scheduling/_move_preview.html", context)


@require_POST
def appointment_undo(request: AuthedRequest) -> HttpResponse:
    try:
        result = services.appointment_undo(actor=request.user, token=request.POST.get("token", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return done(request, _next_url(request) or reverse("diary"))
    messages.success(request, result.message)
    if result.moved is not None:
        _say_what_the_move_did(request, result.moved)
    if result.series_moved:
        _say_what_the_series_move_did(request, result.series_moved)
    for warning in result.warnings:
        messages.warning(request, warning)
    if result.telehealth_restored:
        _warn_if_zoom_not_ready(request, result.appointment)
    return done(request, _next_url(request) or selectors.diary_url(
        timezone.localtime(result.appointment.starts_at, request.practice.zone).date()))


def _series_list(items, zone) -> str:
    return "; ".join(f"{timezone.localtime(appointment.starts_at, zone):%a %d %b %H:%M} ({reason})"
                     for appointment, reason in items)


def _move_following(request: AuthedRequest, appointment, form: MoveForm) -> HttpResponse:
    """"This and following": each appointment of the series from this one on moves by the same change."""
    data, zone = form.cleaned_data, request.practice.zone
    try:
        outcome = services.series_move_following(
            actor=request.user, appointment=appointment, starts_at=data["starts_at"], ends_at=data["ends_at"],
            practitioner=data["practitioner"], location=data["location"])
    except ApplicationError as exc:
        outcome = None
        form.add_error(None, exc.message)
    if outcome is not None and not outcome.changed:
        form.add_error(None, f"Nothing was moved: {_series_list(outcome.skipped, zone)}.")
    if outcome is None or not outcome.changed:
        return render_page(request, "scheduling/_appointment_detail.html",
                           _detail_context(request, appointment, move_form=form))
    moved = len(outcome.changed)
    offer = services.undo_offer_series_move(actor=request.user, outcome=outcome)
    messages.success(request, f"Moved {moved} appointment{pluralize(moved)} of the series: this one and the "
                              f"following.{f' {offer.text}' if offer else ''}",
                     extra_tags=_undo_tags(offer) if offer else "")
    if outcome.skipped:
        messages.warning(request, f"Not moved ({len(outcome.skipped)}): {_series_list(outcome.skipped, zone)}.")
    _say_what_the_series_move_did(request, outcome.changed)
    return done(request, selectors.diary_url(timezone.localtime(data["starts_at"], zone).date()))


def _say_what_the_series_move_did(request: AuthedRequest, results: list[services.BookingResult]) -> None:
    """Working hours, and R7 or R8 counted, after a "this and following" move or the undo of one."""
    zone = request.practice.zone
    outside: dict[Practitioner, list[str]] = {}
    for result in results:
        if result.warnings:
            outside.setdefault(result.appointment.practitioner, []).append(
                f"{timezone.localtime(result.appointment.starts_at, zone):%a %d %b}")
    for practitioner, days in outside.items():
        messages.warning(request, f"Outside {practitioner}'s working hours: {', '.join(days)}.")
    recreated = sum(result.telehealth == services.TelehealthChange.RECREATED for result in results)
    if recreated:
        # R7 for each: nothing is sent to the clients automatically.
        messages.info(request, f"The Zoom meetings of {recreated} telehealth appointment{pluralize(recreated)} are "
                               "being re-created for the new times. The old links, meeting IDs and passcodes no "
                               "longer work. Send each client the new details from the appointment.")
    removed = sum(result.telehealth == services.TelehealthChange.REMOVED for result in results)
    if removed:
        messages.warning(request, "Telehealth is not supported when an appointment moves to another practitioner: "
                                  f"the Zoom meetings of {removed} appointment{pluralize(removed)} were deleted and "
                                  "Telehealth unticked. The clients were not notified.")


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
def appointment_confirm(request: AuthedRequest, pk: int) -> HttpResponse:
    """The desk marks the appointment confirmed for the client (e.g. after a phone call)."""

    def confirm(appointment) -> str:
        services.appointment_confirm(appointment=appointment, via=ConfirmedVia.STAFF, actor=request.user)
        return "Marked as confirmed."

    return _act(request, pk, confirm)


@require_POST
def appointment_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""

    following = form.is_valid() and form.cleaned_data["scope"] == SeriesScope.FOLLOWING

    def cancel(appointment) -> str | tuple[str, str]:
        if following and appointment.series_id:
            return _cancel_following(request, appointment, reason)
        cancelled = services.appointment_cancel(actor=request.user, appointment=appointment, reason=reason)
        offer = services.undo_offer_cancel(actor=request.user, appointment=cancelled,
                                           previous_status=appointment.status)
        return f"Appointment cancelled. The time is free to book again. {offer.text}", _undo_tags(offer)

    return _act(request, pk, cancel)


def _cancel_following(request: AuthedRequest, appointment, reason: str) -> tuple[str, str]:
    zone = request.practice.zone
    outcome = services.series_cancel_following(actor=request.user, appointment=appointment, reason=reason)
    offer = services.undo_offer_series_cancel(actor=request.user, outcome=outcome)
    if offer is None:
        raise ApplicationError(f"Nothing was cancelled: {_series_list(outcome.skipped, zone)}.")
    cancelled = len(outcome.changed)
    message = (f"Cancelled {cancelled} appointment{pluralize(cancelled)} of the series: this one and the following. "
               "The times are free to book again.")
    if outcome.skipped:
        message += f" Not cancelled: {_series_list(outcome.skipped, zone)}."
    return f"{message} {offer.text}", _undo_tags(offer)


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
