from django.http import HttpRequest

from practice import roles


def needs_attention(request: HttpRequest) -> dict:
    """The count beside "Needs attention" in the top bar, for front desk and admins (one query)."""
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from attention.selectors import attention_count

    return {"attention_count": attention_count()}
