from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Func,
    Lookup,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.http import Http404
from django.utils import timezone

from practice.models import WEEKDAYS, Client, Location, Practitioner, WorkingHours
from practice.phones import mobile_to_e164
from practice.search import (
    TYPO_WORD_MIN,
    client_search_name,
    name_skeleton,
    query_words,
    skeletons_a_letter_away,
    skeletons_a_slip_away,
    typo_similarity,
)

SEARCH_LIMIT = 20  # as you type: the best 20 are enough to pick from; the Clients page pages through the rest
# The appointment statuses that are still to come (scheduling.models.Status; practice does not import scheduling).
UPCOMING_STATUSES = ("booked", "arrived")
NAME_ORDER = ("last_name", "first_name", "pk")


def _begins_a_word(word: str) -> Q:
    return Q(search_text__startswith=word) | Q(search_text__contains=f" {word}")


def _matching(words: list[str]) -> QuerySet[Client]:
    """Every typed word occurs in ``search_text``. A word of one or two characters must begin a word ("li" finds
    Liam, not Emilia): inside words it would match nearly everyone, and no trigram index can answer it."""
    clients = Client.objects.all()
    for word in words:
        clients = clients.filter(search_text__contains=word) if len(word) >= 3 else clients.filter(
            _begins_a_word(word))
    return clients


def _all_begin(words: list[str]) -> Q:
    condition = Q()
    for word in words:
        condition &= _begins_a_word(word)
    return condition


def client_search(query: str) -> QuerySet[Client]:
    """Clients with every typed word in their name, mobile or email, best first: those where each word *begins*
    a name, number or email ("kel" → Kelly) before those that only contain one ("kel" → Mickelson), then by
    name. Not sliced: callers page through it (client_search_page); client_matches reads its first few in two
    cheaper parts (_best_matches).

    Everything is compared on the normalised ``search_text`` column (practice/search.py), so "Kelly, Liam",
    "+61 410 000 023", "0410000023", "410 000 023" and "Zoe" for "Zoë" all match."""
    if "\x00" in query:
        # No stored text can hold a NUL (PostgreSQL refuses it even in a search pattern), so nothing matches.
        return Client.objects.none()
    words = query_words(query)
    if not words:
        return Client.objects.order_by(*NAME_ORDER)
    return (_matching(words).annotate(search_rank=Case(When(_all_begin(words), then=Value(0)), default=Value(1)))
            .order_by("search_rank", *NAME_ORDER))


def client_search_similar(query: str, *, limit: int = SEARCH_LIMIT, exclude: Collection[int] = ()) -> list[Client]:
    """Typo-tolerant matches ("Kely" → Kelly, "Smiht" → Smith), best first, for when client_search() found few.

    On PostgreSQL, pg_trgm's word similarity against ``search_text``, from the same trigram index. Elsewhere
    (SQLite), the names' consonant skeletons (practice/search.py): names only, not emails. ``exclude``: the clients
    already shown as matches."""
    if connection.vendor != "postgresql":
        words = [word for word in query_words(query) if word.isalpha()]
        if not any(len(word) >= TYPO_WORD_MIN for word in words):
            return []
        return _similar_by_skeleton(words, limit=limit, exclude=exclude)
    text = " ".join(word for word in query_words(query) if not word.isdigit())
    if len(text) < 3:
        return []
    similar = (Client.objects.filter(WordSimilarTo(F("search_text"), Value(text)))
               .exclude(pk__in=list(exclude))
               .annotate(similarity=WordSimilarity(Value(text), F("search_text")))
               .order_by("-similarity", *NAME_ORDER)[:limit])
    return list(similar)


SKELETON_CANDIDATES_MAX = 1000  # read at most this many clients sharing skeletons: ranking them is the cost


def _similar_by_skeleton(words: list[str], *, limit: int, exclude: Collection[int]) -> list[Client]:
    """Clients with, for each typed word of three letters or more, a name whose skeleton is a slip away from the
    word's (or, when those are too few, a letter away), ranked by how close every typed word is to their names
    (shorter words too), then by name. Each look-up reads the three key columns' indexes only."""
    looked_up = sorted((word for word in words if len(word) >= TYPO_WORD_MIN),
                       key=lambda word: (-len(name_skeleton(word)), -len(word)))
    slips = {word: skeletons_a_slip_away(name_skeleton(word)) for word in looked_up}
    ranked = _rank_by_skeleton(words, slips, exclude=exclude)
    wider = {word: slips[word] | skeletons_a_letter_away(name_skeleton(word)) for word in looked_up}
    if len(ranked) < limit and wider != slips:
        ranked += _rank_by_skeleton(words, wider, exclude=[*exclude, *(pk for *_, pk in ranked)])
    chosen = [pk for *_, pk in sorted(ranked)[:limit]]
    found = Client.objects.in_bulk(chosen)
    return [found[pk] for pk in chosen]


def _rank_by_skeleton(words: list[str], skeletons: dict[str, set[str]], *,
                      exclude: Collection[int]) -> list[tuple[float, str, str, int]]:
    """The clients with a name among each looked-up word's skeletons, as (minus closeness, last name, first name,
    pk) for sorting, those not close enough left out. One query, of names only."""
    candidates = Client.objects.exclude(pk__in=list(exclude)).order_by()  # ranked below
    # The most telling word first: SQLite reads that subquery's clients and checks the others' for each.
    for variants in skeletons.values():
        if not variants:
            return []
        keys = sorted(variants)
        # A subquery per word, each answered from the key indexes alone; one condition with them all would make
        # SQLite read every client.
        candidates = candidates.filter(pk__in=Client.objects.filter(
            Q(search_key_last__in=keys) | Q(search_key_first__in=keys) | Q(search_key_preferred__in=keys)
        ).values("pk"))
    scores: dict[tuple[str, str, str], float] = {}  # many candidates share a name
    ranked = []
    for pk, first_name, preferred_name, last_name in candidates.values_list(
            "pk", "first_name", "preferred_name", "last_name")[:SKELETON_CANDIDATES_MAX]:
        names = (first_name, preferred_name, last_name)
        score = scores.get(names)
        if score is None:
            score = scores[names] = typo_similarity(words, names)
        if score:
            ranked.append((-score, last_name, first_name, pk))
    return ranked


class WordSimilarTo(Lookup):
    """pg_trgm's ``text %> 'typed'``: the typed text is similar to some part of the column (word similarity at
    least pg_trgm.word_similarity_threshold, set to 0.5 in config/settings.py). Unlike comparing WORD_SIMILARITY()
    with a number, this operator is answered from the trigram index."""

    lookup_name = "word_similar_to"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} %%> {rhs}", (*lhs_params, *rhs_params)


class WordSimilarity(Func):
    function = "WORD_SIMILARITY"
    output_field = FloatField()


@dataclass(frozen=True)
class ClientRow:
    """A client as search results show it: with the next appointment still to come (or None), and whether the
    name is only a similar spelling of what was typed (the typo fallback) rather than a match."""

    client: Client
    next_appointment: Any  # scheduling.models.Appointment, with its practitioner
    similar: bool = False


def client_rows(clients: Iterable[Client], *, similar: Collection[int] = ()) -> list[ClientRow]:
    """Each client with their next upcoming appointment (booked or arrived, not cancelled), in one query
    however many clients: the first per client by a window function, with its practitioner. ``similar``: the
    clients that are only similar spellings."""
    clients = list(clients)
    if not clients:
        return []
    # By the reverse relation: practice does not import scheduling (DESIGN.md §4).
    appointment_model = Client._meta.get_field("appointments").related_model
    upcoming = (appointment_model.objects  # type: ignore[union-attr]
                .filter(client__in=[client.pk for client in clients], starts_at__gte=timezone.now(),
                        status__in=UPCOMING_STATUSES)
                .annotate(position=Window(RowNumber(), partition_by=F("client_id"),
                                          order_by=[F("starts_at").asc(), F("pk").asc()]))
                .filter(position=1)
                .select_related("practitioner"))
    next_by_client = {appointment.client_id: appointment for appointment in upcoming}
    return [ClientRow(client, next_by_client.get(client.pk), client.pk in similar) for client in clients]


def client_search_page(query: str, page_number: str | None, *, per_page: int = 25) -> tuple[Page, list[ClientRow]]:
    """One page of client_search(query) for the Clients page, with each client's next appointment."""
    page = Paginator(client_search(query), per_page).get_page(page_number)
    return page, client_rows(page.object_list)


def _best_matches(query: str, limit: int) -> list[Client]:
    """The first ``limit`` of client_search(query), read without sorting every match: those where each word
    begins a name, number or email, by name, then only when they are fewer than ``limit``, those that merely
    contain a word. Each part is a LIMITed query by name, so where matches are many (a common name, "041": every
    mobile) PostgreSQL walks the name index and stops at ``limit`` (0.1 ms for "kel" at 50,000 clients, against
    ~7 ms to sort its 4,500 matches); where its statistics say they are few, it finds them from the trigram index.

    SQLite keeps no such statistics and always walks the name index, which for a word nobody has (a typo) reads
    every client by index twice (~40 ms at 50,000, against ~10 ms for one scan): there, the one sorted query."""
    if connection.vendor != "postgresql":
        return list(client_search(query)[:limit])
    if "\x00" in query:
        return []
    words = query_words(query)
    if not words:
        return list(Client.objects.order_by(*NAME_ORDER)[:limit])
    matching, all_begin = _matching(words), _all_begin(words)
    clients = list(matching.filter(all_begin).order_by(*NAME_ORDER)[:limit])
    # Words under three letters must begin a word anyway (_matching): then there is nothing more to find.
    if len(clients) < limit and any(len(word) >= 3 for word in words):
        clients += matching.exclude(all_begin).order_by(*NAME_ORDER)[:limit - len(clients)]
    return clients


FEW_MATCHES = 3  # fewer matches than this, and similar spellings are offered after them


def client_matches(query: str, *, limit: int = SEARCH_LIMIT) -> tuple[list[ClientRow], bool]:
    """The best ``limit`` matches as you type, each with the next appointment, and whether any are only similar
    spellings (the typo fallback). With fewer than FEW_MATCHES matches, similar spellings follow them, up to
    ``limit`` in all: a match always ranks before a similar spelling."""
    clients = _best_matches(query, limit)
    similar: list[Client] = []
    if len(clients) < min(FEW_MATCHES, limit) and query.strip():
        similar = client_search_similar(query, limit=limit - len(clients), exclude=[client.pk for client in clients])
    return client_rows(clients + similar, similar={client.pk for client in similar}), bool(similar)


def client_possible_duplicates(*, first_name: str, last_name: str, mobile: str, exclude_pk: int | None = None,
                               limit: int = 3) -> list[Client]:
    """Clients who may be the person about to be added: the same first and last name (ignoring case, accents
    and apostrophes) or the same mobile, however it was typed."""
    condition = Q(pk__in=[])
    if first_name.strip() and last_name.strip():
        condition |= Q(search_name=client_search_name(first_name=first_name, last_name=last_name)[:130])
    try:
        e164 = mobile_to_e164(mobile or "")
    except ValueError:
        e164 = ""  # not a mobile (yet, while typing): nothing to compare
    if e164:
        condition |= Q(mobile=e164)
    duplicates = Client.objects.filter(condition)
    if exclude_pk is not None:
        duplicates = duplicates.exclude(pk=exclude_pk)
    return list(duplicates.order_by("last_name", "first_name", "pk")[:limit])


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

