from django.http import HttpRequest

from practice import roles


def credits(request: HttpRequest) -> dict:
    """The SMS credit balance in the top bar for front desk and admins, with the low-balance warning."""
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from reminders.models import ReminderSettings
    from reminders.services import credits_balance

    balance = credits_balance()
    return {"sms_credits": balance, "sms_credits_low": balance < ReminderSettings.load().low_balance_warning}
