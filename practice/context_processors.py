from django.http import HttpRequest

from practice import roles
from practice.models import Practice


def practice(request: HttpRequest) -> dict:
    if not request.user.is_authenticated:
        return {}
    practice = getattr(request, "practice", None) or Practice.load()  # set by PracticeTimeZoneMiddleware
    return {
        "practice": practice,
        "role_label": roles.label(request.user),
        "is_practice_admin": roles.is_practice_admin(request.user),
        # The top bar's "My calendar feed": by role, since the groups are already read (no query per page).
        "is_practitioner": roles.PRACTITIONER in roles.group_names(request.user),
    }
