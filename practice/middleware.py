from django.core.exceptions import PermissionDenied
from django.utils import timezone

from practice import roles
from practice.models import Practice


class PracticeTimeZoneMiddleware:
    """Show every time in the practice's own zone; the database keeps UTC."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            request.practice = Practice.load()
            with timezone.override(request.practice.zone):
                return self.get_response(request)
        return self.get_response(request)


class RoleRequiredMiddleware:
    """Default deny for signed-in users too: an account without one of the three roles reaches nothing.

    Removing someone's roles (instead of deactivating them) must not leave them reading client details.
    """

    ALLOWED_PREFIXES = ("/accounts/", "/health/", "/webhooks/", "/static/")

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
