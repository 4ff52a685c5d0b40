"""The client's page of one appointment, opened from a link in a message (/c/<code>; issue 11, DESIGN.md §6).

No login: the code is the key. Every view looks the code up through scheduling.services.client_link_find, under
the per-address throttle, and acts only through the scheduling services. Nothing here logs or titles a page with
client data; the page shows the client's first name and nothing clinical.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clientpage import throttle
from clientpage.ics import appointment_ics, client_place
from practice.errors import ApplicationError
from practice.models import Practice
from scheduling import services
from scheduling.models import Appointment, ConfirmedVia


def _render(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    practice = context["practice"]
    with timezone.override(practice.zone):  # every time on the page in the practice's zone
        return render(request, template, context, status=status)


def _refused(request: HttpRequest, practice: Practice, *, status: int) -> HttpResponse:
    """A wrong or expired code (404) or too many requests (429): a plain page with the practice's phone."""
    response = _render(request, "clientpage/not_found.html", {"practice": practice, "status": status},
                       status=status)
    if status == 429:
        response["Retry-After"] = "60"
    return response


def with_appointment(view: Callable) -> Callable:
    """Open to anyone holding a valid code; throttled per address; never cached (the page names the client)."""

    @login_not_required
    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, code: str) -> HttpResponse:
        practice = Practice.load()
        if throttle.over_limit(request):
            return _refused(request, practice, status=429)
        appointment = services.client_link_find(code)
        if appointment is None:
            throttle.record_wrong_code(request)
            return _refused(request, practice, status=404)
        return view(request, code, appointment, practice)

    return wrapper


def _page(request: HttpRequest, code: str, appointment: Appointment, practice: Practice, *, notice: str = "",
          asking_cancel: bool = False, status: int = 200) -> HttpResponse:
    now = timezone.now()
    place = client_place(appointment)
    deadline = services.client_cancel_deadline(appointment, practice)
    client = appointment.client
    return _render(request, "clientpage/page.html", {
        "practice": practice, "appointment": appointment, "code": code, "notice": notice,
        "first_name": client.preferred_name or client.first_name,
        "online": place.online, "location_text": place.name, "location_address": place.address,
        "join": services.client_join_state(appointment, now=now),
        "is_over": appointment.ends_at <= now,
        "can_confirm": services.client_may_confirm(appointment, now=now),
        "can_cancel": services.client_may_cancel(appointment, practice, now=now),
        "cancel_deadline": deadline, "asking_cancel": asking_cancel,
        "confirmed_by_client": appointment.confirmed_via in (ConfirmedVia.CLIENT_LINK, ConfirmedVia.CLIENT_SMS),
    }, status=status)


@require_GET
@with_appointment
def client_page(request: HttpRequest, code: str, appointment: Appointment, practice: Practice) -> HttpResponse:
    return _page(request, code, appointment, practice)


@require_GET
@with_appointment
def client_join(request: HttpRequest, code: str, appointment: Appointment, practice: Practice) -> HttpResponse:
    """To the appointment's *current* Zoom meeting, so a link sent before a move (R7) still joins."""
    join = services.client_join_state(appointment)
    if join.state == "live":
        return HttpResponseRedirect(appointment.zoom_meeting.join_url)  # type: ignore[union-attr]
    return _page(request, code, appointment, practice, notice="join")


@require_POST
@with_appointment
def client_confirm(request: HttpRequest, code: str, appointment: Appointment, practice: Practice) -> HttpResponse:
    try:
        services.appointment_confirm(appointment=appointment, via=ConfirmedVia.CLIENT_LINK)
    except ApplicationError:
        appointment.refresh_from_db()  # e.g. the desk cancelled it meanwhile: show it as it is now
        return _page(request, code, appointment, practice, notice="not-confirmed", status=409)
    return redirect("client-page", code=code)


@require_http_methods(["GET", "POST"])
@with_appointment
def client_cancel(request: HttpRequest, code: str, appointment: Appointment, practice: Practice) -> HttpResponse:
    """GET asks "are you sure?"; the POST cancels through the normal service (R10: the Zoom meeting goes)."""
    if request.method == "GET":
        return _page(request, code, appointment, practice, asking_cancel=True)
    try:
        services.appointment_cancel_by_client(appointment=appointment)
    except ApplicationError:
        appointment.refresh_from_db()
        return _page(request, code, appointment, practice, notice="not-cancelled", status=409)
    return redirect("client-page", code=code)


@require_GET
@with_appointment
def client_calendar(request: HttpRequest, code: str, appointment: Appointment, practice: Practice) -> HttpResponse:
    page_url = request.build_absolute_uri(reverse("client-page", args=[code]))
    join_url = request.build_absolute_uri(reverse("client-page-join", args=[code]))
    body = appointment_ics(appointment, practice, page_url=page_url, join_url=join_url)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response
