from django.db.models import Q, QuerySet
from django.http import Http404

from practice.models import Client


def client_search(query: str) -> QuerySet[Client]:
    """Clients whose name, mobile or email matches what was typed; every word must match."""
    if "\x00" in query:
        # No stored text can hold a NUL (PostgreSQL refuses it even in a search pattern), so nothing matches.
        return Client.objects.none()
    clients = Client.objects.all()
    for word in query.split()[:4]:
        condition = (Q(first_name__icontains=word) | Q(last_name__icontains=word)
                     | Q(preferred_name__icontains=word) | Q(email__icontains=word))
        digits = "".join(ch for ch in word if ch.isdigit())
        if len(digits) >= 3:
            # Stored as +61412…; typed as 0412…
            condition |= Q(mobile__contains=digits.lstrip("0"))
        clients = clients.filter(condition)
    return clients.order_by("last_name", "first_name")


def client_get(pk: int) -> Client:
    try:
        return Client.objects.get(pk=pk)
    except Client.DoesNotExist as exc:
        raise Http404("No such client.") from exc


def client_search_chosen(pk: str | None) -> Client | None:
    """The client already picked in a booking form being redisplayed."""
    if not pk or not (str(pk).isascii() and str(pk).isdigit()):  # "²".isdigit() is true, int("²") fails
        return None
    return Client.objects.filter(pk=pk).first()
