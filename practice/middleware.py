from django.utils import timezone

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
