from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from practice.models import WEEKDAYS, Client, Location, Practitioner, WorkingHours


def client_search(query: str) -> QuerySet[Client]:
    """Clients whose name, mobile or email matches what was typed; every word must match."""
    if "\x00" in query:
        # No stored text can hold a NUL (PostgreSQL refuses it even in a search pattern), so nothing matches.
        return Client.objects.none()
    clients = Client.objects.all()
    if query.strip() and all(ch.isdigit() or ch in " +-()." for ch in query):
        # A phone typed in any format ("+61 410 000 023", "0410 000 023"): match its digits as one number.
        query = "".join(ch for ch in query if ch.isdigit())
        if query.startswith("61"):
            query = query[2:]
    for word in query.replace(",", " ").split()[:4]:
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


# Options ----------------------------------------------------------------------------------------------------------

def locations_for_options() -> list[Location]:
    """Every location, active first, each with ``uses``: how many appointments were booked there."""
    # By the reverse relation's name: practice does not import scheduling (DESIGN.md §4).
    return list(Location.objects.annotate(uses=Count("appointments")).order_by("-is_active", "name"))


def practitioners_for_options() -> list[Practitioner]:
    return list(Practitioner.objects.select_related("user", "default_location")
                .prefetch_related(Prefetch("working_hours",
                                           queryset=WorkingHours.objects.select_related("location")))
                .order_by("-is_active", "display_name"))


def week_summary(practitioner: Practitioner) -> str:
    """"Mon, Tue, Thu · 5 shifts", from prefetched working hours."""
    shifts = list(practitioner.working_hours.all())
    if not shifts:
        return ""
    days = sorted({shift.weekday for shift in shifts})
    names = ", ".join(WEEKDAYS[day][1][:3] for day in days)
    return f"{names} · {len(shifts)} shift{'s' if len(shifts) != 1 else ''}"

