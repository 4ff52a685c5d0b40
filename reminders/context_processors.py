from functools import cache

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from practice import roles


def credits(request: HttpRequest) -> dict:
    """The top bar for front desk and admins: the SMS credit balance with the low-balance warning, and the
    Inbox's unread count (one query for all three)."""
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from reminders.services import top_bar_figures

    # Read only if the page shows it: the side panel and other partials have no top bar.
    figures = cache(top_bar_figures)  # one query for the three, on the first use
    return {"sms_credits": SimpleLazyObject(lambda: figures().sms_credits),
            "sms_credits_low": SimpleLazyObject(lambda: figures().sms_credits < figures().low_balance_warning),
            "inbox_unread": SimpleLazyObject(lambda: figures().inbox_unread)}
