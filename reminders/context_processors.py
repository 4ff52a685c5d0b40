from django.http import HttpRequest

from practice import roles


def credits(request: HttpRequest) -> dict:
    """The SMS credit balance in the top bar for front desk and admins, with the low-balance warning."""
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from reminders.services import credits_balance_and_warning

    balance, threshold = credits_balance_and_warning()
    return {"sms_credits": balance, "sms_credits_low": balance < threshold}
