"""Small helpers shared by the views of every app."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from practice.models import Practice


class AuthedRequest(HttpRequest):
    """A request behind LoginRequiredMiddleware and PracticeTimeZoneMiddleware (for type checking)."""

    user: User
    practice: Practice


def is_panel_request(request: HttpRequest) -> bool:
    """htmx asked for the side panel's content only; without JavaScript the whole page is served."""
    return request.headers.get("HX-Target") == "panel"


# What the browser's title bar, tabs and history say for a panel shown as a whole page. Never the panel's own
# heading, which names the client and the time (RELIABILITY.md 29); a panel not listed is just "Practice".
PAGE_TITLES = {
    "scheduling/_appointment_detail.html": "Appointment",
    "scheduling/_booking_form.html": "New appointment",
    "scheduling/_series_confirm.html": "New appointment",
    "scheduling/_zoom_details.html": "Zoom details",
    "practice/_client_form.html": "Client",
}


def render_page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    """Render ``template`` as the side panel for htmx, or inside the full page layout otherwise.

    ``template`` is the partial; the full page wraps it through ``page.html``.
    """
    context = {"page_title": PAGE_TITLES.get(template, "Practice"), **context,
               "partial_template": template, "as_panel": is_panel_request(request)}
    if context["as_panel"]:
        return render(request, template, context, status=status)
    return render(request, "page.html", context, status=status)


def done(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful POST: a full navigation, also when the form was submitted from the panel."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def role_required(check: Callable) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
