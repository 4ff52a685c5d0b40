from django.http import HttpRequest

from practice import roles


def credits(request: HttpRequest) -> dict:
    """The SMS credit balance in the top bar for front desk and admins, with the low-balance warning."""
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from reminders.models import ReminderSettings
    from reminders.services import credits_balance

    balance = credits_balance()
    # A read only (no get_or_create), so a page costs the same queries whether or not the row exists yet.
    warning = ReminderSettings.objects.filter(pk=1).values_list("low_balance_warning", flat=True).first()
    threshold = ReminderSettings._meta.get_field("low_balance_warning").default if warning is None else warning
    return {"sms_credits": balance, "sms_credits_low": balance < threshold}
