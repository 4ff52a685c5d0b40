from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from practice import roles


def needs_attention(request: HttpRequest) -> dict:
    """The count beside "Needs attention" in the top bar, for front desk and admins (one query).

    Counted only if the page shows it: the side panel and other partials have no top bar, and the count was a fifth
    of the appointment panel's time.
    """
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from attention.selectors import attention_count

    return {"attention_count": SimpleLazyObject(attention_count)}
