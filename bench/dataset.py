"""The benchmark's data and its in-process measurements, run by bench/run.py in a subprocess per database.

    python -m bench.dataset seed      # migrate and fill the database named by DATABASE_URL
    python -m bench.dataset grow      # add practitioners up to 80 on the wide day
    python -m bench.dataset queries   # print the queries each measured page makes, as JSON
    python -m bench.dataset check     # print double bookings (overlapping live appointments), as JSON
    python -m bench.dataset search N  # time the top bar's search selector alone (median of N runs per query), JSON
"""

import json
import os
import statistics
import sys
from datetime import date, time, timedelta
from itertools import cycle
from time import perf_counter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as TestClient  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from practice import roles  # noqa: E402
from practice.models import Client, Location, Practice, Practitioner, WorkingHours  # noqa: E402
from practice.selectors import client_matches  # noqa: E402
from practice.timezones import local_to_aware  # noqa: E402
from scheduling.models import Appointment, AppointmentType, Status  # noqa: E402

DAY = date(2030, 3, 4)  # a Monday: the measured day, 20 practitioners x 30 appointments
WIDE_DAY = DAY + timedelta(days=1)  # 20 practitioners, then 80 after `grow`
BOOKING_DAYS = [DAY + timedelta(weeks=5 + n) for n in range(8)]  # empty days the booking run fills
PRACTITIONERS, PER_PRACTITIONER, OTHER_DAYS, WIDE = 20, 30, 13, 80
PASSWORD = "bench password 1"  # noqa: S105 - a throwaway database's only login
FIRST = ["Liam", "Olivia", "Noah", "Charlotte", "Jack", "Amelia", "William", "Isla", "Oliver", "Mia", "Henry",
         "Ava", "Leo", "Grace", "Thomas", "Chloe", "James", "Zoe", "Lucas", "Ella", "Kelvin", "Ruby", "Mason", "Ivy"]
LAST = ["Kelly", "Smith", "Nguyen", "Brown", "Wilson", "Taylor", "Johnson", "White", "Martin", "Anderson",
        "Thompson", "Walker", "Harris", "Lee", "Ryan", "Robinson", "Kelleher", "Young", "King", "Wright", "Scott",
        "Green", "Baker", "Adams", "Mitchell", "Campbell", "Roberts", "Carter", "Phillips", "Evans", "Turner",
        "Torres", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers"]


def _practitioner(n: int, location: Location) -> Practitioner:
    user = User.objects.create_user(username=f"practitioner{n}")
    practitioner = Practitioner.objects.create(user=user, display_name=f"Practitioner {n:02d}",
                                               default_location=location)
    WorkingHours.objects.bulk_create(
        WorkingHours(practitioner=practitioner, weekday=weekday, starts_at=time(8), ends_at=time(17),
                     location=location) for weekday in range(5))
    return practitioner


def _day_of(practitioners, day: date, clients: list[int], kind: AppointmentType, location: Location, zone):
    """Thirty 15-minute appointments each, every 20 minutes from 07:00 (some before working hours, as in life)."""
    rows = []
    for p_index, practitioner in enumerate(practitioners):
        for n in range(PER_PRACTITIONER):
            start = local_to_aware(day, time(7), zone) + timedelta(minutes=20 * n)
            rows.append(Appointment(client_id=clients[(p_index * 997 + n * 31 + day.toordinal()) % len(clients)],
                                    practitioner=practitioner, location=location, appointment_type=kind,
                                    starts_at=start, ends_at=start + timedelta(minutes=15)))
    Appointment.objects.bulk_create(rows, batch_size=2000)


def seed(clients: int) -> None:
    call_command("migrate", verbosity=0)
    practice = Practice.load()
    location = Location.objects.create(name="Bench clinic", address="1 Bench St")
    kind = AppointmentType.objects.create(name="Standard", default_duration=15)
    names = cycle((first, last) for last in LAST for first in FIRST)
    Client.objects.bulk_create(
        (Client(first_name=first, last_name=last if n < len(FIRST) * len(LAST) else f"{last}{n % 997}",
                mobile=f"+61410{n:06d}", email=f"client{n}@example.com")
         for n, (first, last) in zip(range(clients), names, strict=False)), batch_size=5000)
    client_ids = list(Client.objects.values_list("pk", flat=True)[:5000])
    practitioners = [_practitioner(n, location) for n in range(PRACTITIONERS)]
    for offset in range(OTHER_DAYS + 1):
        _day_of(practitioners, DAY + timedelta(days=offset), client_ids, kind, location, practice.zone)
    desk = User.objects.create_user(username="desk", password=PASSWORD, first_name="Front", last_name="Desk")
    desk.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    _analyze()


def _analyze() -> None:
    """Statistics for the planner after a bulk load, as autovacuum would gather them a minute later."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def grow() -> None:
    """The wide day: 80 practitioners x 30 appointments (only measured after everything else)."""
    practice = Practice.load()
    location, kind = Location.objects.get(), AppointmentType.objects.get()
    client_ids = list(Client.objects.values_list("pk", flat=True)[:5000])
    extra = [_practitioner(n, location) for n in range(PRACTITIONERS, WIDE)]
    _day_of(extra, WIDE_DAY, client_ids, kind, location, practice.zone)
    _analyze()


def queries(paths: dict[str, str]) -> dict[str, int]:
    client = TestClient(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="desk"))
    counts = {}
    for name, spec in paths.items():
        method, url = spec.split(" ", 1)
        headers = {"HX-Request": "true", "HX-Target": "panel"} if name == "panel" else {}
        for _ in range(2):  # the second request is measured: caches warm, the session already fresh
            with CaptureQueriesContext(connection) as captured:
                response = (client.post(url, {"q": "kel"}, headers=headers) if method == "POST"
                            else client.get(url, headers=headers))
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(captured)
    return counts


# As typed in the top bar: a surname's start, a first name's, digits of a mobile, "Last, First", a number with its
# country code; and on PostgreSQL a typo, answered by the trigram similarity fallback.
SEARCH_QUERIES = ["kel", "smi", "oli", "041", "Kelly, Li", "+61 410 0"]
TYPO_QUERY = "Kellyy"


def search_timings(runs: int) -> dict[str, dict]:
    """The selector the top bar uses (practice.selectors.client_matches: ranked, capped at 8, with each client's
    next appointment) on its own, in-process: median milliseconds per query, and how many clients it shows."""
    queries = SEARCH_QUERIES + ([TYPO_QUERY] if connection.vendor == "postgresql" else [])
    timings = {}
    for query in queries:
        for _ in range(3):
            rows, similar = client_matches(query, limit=8)  # warm caches and the connection
        samples = []
        for _ in range(runs):
            started = perf_counter()
            client_matches(query, limit=8)
            samples.append((perf_counter() - started) * 1000)
        timings[query] = {"ms": statistics.median(samples), "shown": len(rows), "similar": similar}
    return timings


def double_bookings() -> list[tuple[int, int]]:
    live = list(Appointment.objects.exclude(status=Status.CANCELLED)
                .order_by("practitioner_id", "starts_at").values_list("pk", "practitioner_id", "starts_at", "ends_at"))
    return [(a[0], b[0]) for a, b in zip(live, live[1:], strict=False) if a[1] == b[1] and b[2] < a[3]]


def facts() -> dict:
    """What run.py needs to build its URLs and booking requests."""
    desk_day = Appointment.objects.filter(starts_at__date=DAY).order_by("starts_at").first()
    assert desk_day is not None
    return {
        "day": DAY.isoformat(), "wide_day": WIDE_DAY.isoformat(),
        "booking_days": [d.isoformat() for d in BOOKING_DAYS],
        "appointment": desk_day.pk, "practitioner": desk_day.practitioner_id,
        "practitioners": list(Practitioner.objects.order_by("pk").values_list("pk", flat=True)[:PRACTITIONERS]),
        "location": Location.objects.get().pk, "type": AppointmentType.objects.get().pk,
        "client": Client.objects.order_by("pk").values_list("pk", flat=True).first(),
        "appointments": Appointment.objects.count(), "clients": Client.objects.count(),
        "password": PASSWORD,
    }


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "seed":
        seed(int(sys.argv[2]))
        print(json.dumps(facts()))
    elif command == "grow":
        grow()
    elif command == "queries":
        print(json.dumps(queries(json.loads(sys.argv[2]))))
    elif command == "check":
        print(json.dumps(double_bookings()))
    elif command == "search":
        print(json.dumps(search_timings(int(sys.argv[2]))))
