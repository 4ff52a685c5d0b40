from django.http import HttpRequest

from practice import roles


def credits(request: HttpRequest) -> dict:
    """The top bar for front desk and admins: the SMS credit balance with the low-balance warning, and the
    Inbox's unread count (one query for all three)."""
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from reminders.services import top_bar_figures

    figures = top_bar_figures()
    return {"sms_credits": figures.sms_credits, "sms_credits_low": figures.sms_credits < figures.low_balance_warning,
            "inbox_unread": figures.inbox_unread}
