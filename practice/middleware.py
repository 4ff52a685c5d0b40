import time

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.cache import patch_cache_control

from practice import roles
from practice.models import Practice


class IdleSessionMiddleware:
    """Sessions end after SESSION_COOKIE_AGE without a request (30 minutes idle, not 30 after login).

    Saving the session on every request would make every page view a database write; marking it changed at
    most once a minute keeps the idle timeout exact to within that minute (the cookie and the stored expiry
    move together on each save).
    """

    REFRESH_AFTER = 60  # seconds
    KEY = "_refreshed_at"
    # Sent by polls the page makes by itself (the diary's live Zoom badges): they are not a person's activity, so
    # a diary left open still times out.
    BACKGROUND_HEADER = "X-Background-Poll"

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        if not session.is_empty() and not request.headers.get(self.BACKGROUND_HEADER):
            now = int(time.time())
            if now - session.get(self.KEY, 0) >= self.REFRESH_AFTER:
                session[self.KEY] = now
        return self.get_response(request)


class PracticeTimeZoneMiddleware:
    """Show every time in the practice's own zone; the database keeps UTC."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            with Practice.for_request() as practice:
                request.practice = practice
                with timezone.override(practice.zone):
                    return self.get_response(request)
        return self.get_response(request)


class RoleRequiredMiddleware:
    """Default deny for signed-in users too: an account without one of the three roles reaches nothing.

    Removing someone's roles (instead of deactivating them) must not leave them reading client details.
    """

    # /feeds/: a calendar feed link is its own credential (scheduling.feeds), also in a signed-in browser;
    # /c/: the client's page, whose code is the key (clientpage).
    ALLOWED_PREFIXES = ("/accounts/", "/health/", "/webhooks/", "/feeds/", "/static/", "/c/")

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if (not user.is_authenticated or user.is_superuser or roles.group_names(user) & set(roles.ALL)
                or request.path.startswith(self.ALLOWED_PREFIXES)):
            return None
        raise PermissionDenied("Your account has no role yet. Ask a practice admin to give you one.")


class PrivateResponseMiddleware:
    """Health data stays out of caches, and pages run only the app's own scripts and styles (RELIABILITY.md 29).

    Every answer to a signed-in user is ``Cache-Control: no-store, private``: a shared proxy must not keep it, and
    a browser must not show it again from its cache after logout (the back button on a shared front-desk PC).
    Static files are served by WhiteNoise before this middleware and keep their long-lived caching.

    Every answer carries the Content-Security-Policy from settings, so an injected script or a foreign form
    target is refused by the browser even if a template ever forgot to escape something.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.static_prefix = "/" + str(settings.STATIC_URL).lstrip("/")

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(self.static_prefix):
            patch_cache_control(response, no_store=True, private=True)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
