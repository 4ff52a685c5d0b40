from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from practice import roles


def credits(request: HttpRequest) -> dict:
    """The SMS credit balance in the top bar for front desk and admins, with the low-balance warning."""
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from reminders.services import credits_balance_and_warning

    # Read only if the page shows it: the side panel and other partials have no top bar.
    both = SimpleLazyObject(credits_balance_and_warning)
    return {"sms_credits": SimpleLazyObject(lambda: both[0]),
            "sms_credits_low": SimpleLazyObject(lambda: both[0] < both[1])}
