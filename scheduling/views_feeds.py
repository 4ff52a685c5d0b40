"""Calendar feeds (issue 11): the public feed, the practitioner's own page and Options → Calendar feeds."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from practice import roles
from practice.errors import ApplicationError
from practice.http import AuthedRequest, role_required
from practice.models import Practitioner
from scheduling import feeds


@require_safe
@login_not_required  # a calendar app has no session: the signed token is the credential
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The .ics a calendar app subscribes to. Any link that does not open a feed gets the same plain 404, so a
    guess learns nothing (forged, old key, reset, off, left the practice)."""
    owner = feeds.feed_for_token(token)
    if owner is None:
        return HttpResponseNotFound("No such calendar feed.", content_type="text/plain; charset=utf-8")
    appointments = feeds.feed_appointments(practitioner_id=owner.feed.practitioner_id, now=timezone.now())
    body = feeds.feed_ics(calendar_name=owner.calendar_name, appointments=appointments,
                          full_names=owner.feed.show_full_names)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    # Never kept by a shared cache; the app asks again on its next refresh.
    patch_cache_control(response, private=True, no_cache=True)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _feed_url(request: HttpRequest, feed) -> str:
    """The link with the address calendar apps reach from outside: the public one when the server knows it (as for
    Twilio's callbacks), else the one this page was opened on."""
    path = reverse("calendar-feed", args=[feeds.feed_token(feed)])
    return f"{settings.PUBLIC_BASE_URL}{path}" if settings.PUBLIC_BASE_URL else request.build_absolute_uri(path)


FEED_ACTIONS = {
    "on": (feeds.calendar_feed_enable, "Your calendar feed is on. Copy the link into your calendar app."),
    "off": (feeds.calendar_feed_disable, "Your calendar feed is off; its link no longer works."),
    "reset": (feeds.calendar_feed_reset,
              "Your calendar feed has a new link; the old one no longer works. Subscribe again with the new one."),
}


@require_http_methods(["GET", "POST"])
def my_calendar_feed(request: AuthedRequest) -> HttpResponse:
    """The practitioner's own feed: turn it on or off, copy the link, reset it, initials or full names."""
    practitioner = feeds.practitioner_of(request.user)
    if practitioner is None:
        raise PermissionDenied("The calendar feed shows a practitioner's own diary: your login has none.")
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "names":
                feeds.calendar_feed_set_full_names(actor=request.user, practitioner=practitioner,
                                                   show_full_names=request.POST.get("show_full_names") == "on")
                messages.success(request, "Saved.")
            elif action in FEED_ACTIONS:
                service, said = FEED_ACTIONS[action]
                service(actor=request.user, practitioner=practitioner)
                messages.success(request, said)
            else:
                messages.error(request, "Choose what to do with your calendar feed.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("my-calendar-feed")
    feed = feeds.feed_of(practitioner)
    feed_url = _feed_url(request, feed) if feed.is_enabled else ""
    return render(request, "scheduling/calendar_feed.html", {
        "title": "My calendar feed", "feed": feed, "practitioner": practitioner, "feed_url": feed_url,
        "webcal_url": feed_url.replace("https://", "webcal://", 1).replace("http://", "webcal://", 1),
        "weeks_back": feeds.WEEKS_BACK, "weeks_ahead": feeds.WEEKS_AHEAD,
    })


# Options → Calendar feeds ----------------------------------------------------------------------------------------

admin_only = role_required(roles.is_practice_admin)


@require_GET
@admin_only
def options_calendar_feeds(request: AuthedRequest) -> HttpResponse:
    """Which practitioners publish their diary; an admin sees no link (it is the practitioner's), only turns off."""
    return render(request, "scheduling/options_calendar_feeds.html", {
        "title": "Calendar feeds", "rows": feeds.feeds_for_options()})


@require_POST
@admin_only
def options_calendar_feed_off(request: AuthedRequest, practitioner_pk: int) -> HttpResponse:
    practitioner = get_object_or_404(Practitioner, pk=practitioner_pk)
    try:
        feeds.calendar_feed_disable(actor=request.user, practitioner=practitioner)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The calendar feed of {practitioner} is off; its link no longer works.")
    return redirect("options-calendar-feeds")
