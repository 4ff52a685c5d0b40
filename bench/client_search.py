"""Benchmark: client search as you type at 50,000 clients (issue 10: <= 10 ms on PostgreSQL, <= 30 ms on SQLite).

Fills a fresh database with 50,000 clients (common and generated surnames, mobiles, emails) and 5,000 upcoming
appointments, then times:
- the selector the top bar uses (practice.selectors.client_matches: ranked, capped, with next appointments);
- the whole request, POST /clients/quick-search/ through Django's test client (view, template, middleware).
Run `python bench/client_search.py` (SQLite in a temporary file), or with DATABASE_URL naming an empty scratch
PostgreSQL database (it migrates and fills it; the pg_trgm index comes from migration practice 0005).
"""

import os
import random
import statistics
import sys
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path
from time import perf_counter, process_time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench-search.sqlite3"

warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from practice import roles  # noqa: E402
from practice.models import Client, Location, Practice, Practitioner  # noqa: E402
from practice.selectors import client_matches  # noqa: E402
from scheduling.models import Appointment, AppointmentType  # noqa: E402

CLIENTS, APPOINTMENTS, RUNS = 50_000, 5_000, 60
QUERIES = ["kel", "smi", "ann", "041", "Kelly, Li", "+61 412 3"]
FIRST = ["Liam", "Olivia", "Noah", "Charlotte", "Jack", "Amelia", "William", "Isla", "Oliver", "Mia", "Thomas",
         "Ava", "James", "Grace", "Lucas", "Chloe", "Henry", "Zoe", "Ethan", "Ruby", "Leo", "Sophie", "Archie",
         "Ella", "Max", "Ann", "Hannah", "Sam", "Lily", "Ben", "Evie", "Kelvin", "Zoë", "Ángel", "Siobhan"]
LAST = ["Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson", "Martin", "White",
        "Anderson", "Walker", "Thompson", "Kelly", "Ryan", "Lee", "King", "Harris", "Mickelson", "O'Brien",
        "Campbell", "Clarke", "Robinson", "Wright", "Murphy", "Chen", "Singh", "Tran", "Papadopoulos", "Kellerman"]
SYLLABLES = ["ka", "lo", "mi", "ran", "te", "vo", "shi", "der", "an", "bel", "cor", "dun", "el", "fin", "gar",
             "hol", "is", "jor", "ken", "lam", "mor", "nel", "os", "pen", "quin", "ros", "sel", "tor", "ul", "wen"]


def fill() -> None:
    rng = random.Random(2026)  # noqa: S311 - benchmark data, not security
    clients = []
    for n in range(CLIENTS):
        first = rng.choice(FIRST)
        # Half common surnames (many clients share them), half generated (thousands of distinct ones).
        last = rng.choice(LAST) if n % 2 else "".join(rng.choice(SYLLABLES) for _ in range(3)).title()
        clients.append(Client(first_name=first, last_name=last, mobile=f"+614{rng.randrange(10**8):08d}",
                              email=f"{first}.{last}{n}@example.com".lower().replace("'", "")))
    Client.objects.bulk_create(clients, batch_size=2000)  # ClientQuerySet fills the search columns
    location = Location.objects.create(name="Clinic")
    user = User.objects.create_user("bench-practitioner")
    practitioner = Practitioner.objects.create(user=user, display_name="Amelia Chen", default_location=location)
    kind = AppointmentType.objects.create(name="Standard", default_duration=30)
    ids = list(Client.objects.values_list("pk", flat=True))
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    Appointment.objects.bulk_create(
        (Appointment(client_id=rng.choice(ids), practitioner=practitioner, location=location,
                     appointment_type=kind, starts_at=start + timedelta(hours=n),
                     ends_at=start + timedelta(hours=n, minutes=30)) for n in range(APPOINTMENTS)),
        batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed(action) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per run. On a shared machine the CPU time of this process is the steadier
    figure for SQLite (in-process); PostgreSQL's work happens in the server, so only wall-clock counts there."""
    for _ in range(5):
        action()  # warm caches and connections
    wall, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = perf_counter(), process_time()
        action()
        wall.append((perf_counter() - started) * 1000)
        cpu.append((process_time() - started_cpu) * 1000)
    return wall, cpu


def line(label: str, times: tuple[list[float], list[float]]) -> str:
    wall, cpu = times
    p95 = sorted(wall)[int(len(wall) * 0.95) - 1]
    return (f"{label:<36} median {statistics.median(wall):6.2f} ms  p95 {p95:6.2f} ms  "
            f"(cpu here {statistics.median(cpu):6.2f} ms)")


def main() -> None:
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    if not Client.objects.exists():
        fill()
    Practice.load()
    desk, _ = User.objects.get_or_create(username="bench-desk")
    desk.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    http = HttpClient()
    http.force_login(desk)
    print(f"{connection.vendor}, {Client.objects.count():,} clients, {Appointment.objects.count():,} appointments, "
          f"{timezone.now():%Y-%m-%d %H:%M} UTC")
    for query in QUERIES:
        rows, _ = client_matches(query, limit=8)
        print(line(f"selector  {query!r} ({len(rows)} shown)", timed(lambda q=query: client_matches(q, limit=8))))
        print(line(f"request   {query!r}", timed(
            lambda q=query: http.post("/clients/quick-search/", {"q": q}))))
    if connection.vendor == "postgresql":
        rows, similar = client_matches("Kellyy", limit=8)
        print(line(f"selector  'Kellyy' (typo: {len(rows)} similar)", timed(lambda: client_matches("Kellyy", limit=8))))


if __name__ == "__main__":
    main()
