import logging

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from practice import roles

logger = logging.getLogger(__name__)

# The top bar's count may be this many seconds old on other pages: counting was a fifth of a diary page's time
# (a union over five tables, on every page a front desk opens). The Needs attention page counts afresh, and its
# count is then the one the other pages show.
COUNT_CACHE_KEY = "attention:count"
COUNT_CACHE_SECONDS = 10


def needs_attention(request: HttpRequest) -> dict:
    """The count beside "Needs attention" in the top bar, for front desk and admins (one query).

    Counted only if the page shows it: the side panel and other partials have no top bar.
    """
    if not roles.can_manage_all_appointments(request.user):
        return {}
    from attention.selectors import attention_count

    def count() -> int:
        counted = None if request.path == reverse("needs-attention") else _cached()
        if counted is None:
            counted = attention_count()
            _keep(counted)
        return counted

    return {"attention_count": SimpleLazyObject(count)}


# The cache (Redis in production) being down costs a count per page, never the page: backends raise their own types.

def _cached() -> int | None:
    try:
        return cache.get(COUNT_CACHE_KEY)
    except Exception:  # noqa: BLE001 - see above
        logger.info("The Needs attention count could not be read from the cache", exc_info=True)
        return None


def _keep(counted: int) -> None:
    try:
        cache.set(COUNT_CACHE_KEY, counted, COUNT_CACHE_SECONDS)
    except Exception:  # noqa: BLE001 - see above
        logger.info("The Needs attention count could not be cached", exc_info=True)
