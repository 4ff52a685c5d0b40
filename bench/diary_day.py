"""Benchmark: the diary day view against the bar in DEVELOPERS.md.

A day with 20 practitioners x 30 appointments, served by the real diary view, next to a bare
Django view that reads the same 600 rows in one query and renders them as plain table rows.
Run with `make bench` (SQLite in a temporary file), or with DATABASE_URL naming an empty scratch
PostgreSQL database (it migrates and fills it).
Prints medians and percentiles of wall-clock time per request through Django's test client.
"""

import os
import statistics
import sys
import tempfile
import warnings
from datetime import date, time, timedelta
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import include, path  # noqa: E402

from practice import roles  # noqa: E402
from practice.models import Client, Location, Practice, Practitioner, WorkingHours  # noqa: E402
from practice.timezones import day_bounds, local_to_aware  # noqa: E402
from scheduling.models import Appointment, AppointmentType  # noqa: E402

DAY = date(2030, 3, 4)
PRACTITIONERS, PER_PRACTITIONER, RUNS = 20, 30, 40

BARE = engines["django"].from_string(
    "<table>{% for a in rows %}<tr><td>{{ a.starts_at }}</td><td>{{ a.practitioner.display_name }}</td>"
    "<td>{{ a.client.first_name }} {{ a.client.last_name }}</td><td>{{ a.appointment_type.name }}</td>"
    "<td>{{ a.status }}</td></tr>{% endfor %}</table>"
)


def bare_view(request):
    start, end = day_bounds(DAY, Practice.load().zone)
    rows = (Appointment.objects.filter(starts_at__gte=start, starts_at__lt=end)
            .select_related("practitioner", "client", "appointment_type").order_by("starts_at"))
    return HttpResponse(BARE.render({"rows": rows}))


urlpatterns = [path("bare/", bare_view), path("", include("config.urls"))]


def seed() -> User:
    call_command("migrate", verbosity=0)
    practice = Practice.load()
    location = Location.objects.create(name="Bench clinic")
    kind = AppointmentType.objects.create(name="Standard", default_duration=15)
    clients = Client.objects.bulk_create(Client(first_name=f"Client{n}", last_name="Bench") for n in range(200))
    rows = []
    for p in range(PRACTITIONERS):
        user = User.objects.create_user(username=f"p{p}")
        practitioner = Practitioner.objects.create(user=user, display_name=f"Practitioner {p:02d}",
                                                   default_location=location)
        WorkingHours.objects.create(practitioner=practitioner, weekday=DAY.weekday(), starts_at=time(8),
                                    ends_at=time(17), location=location)
        for n in range(PER_PRACTITIONER):
            start = local_to_aware(DAY, time(7), practice.zone) + timedelta(minutes=20 * n)
            rows.append(Appointment(client=clients[(p * 31 + n) % 200], practitioner=practitioner, location=location,
                                    appointment_type=kind, starts_at=start, ends_at=start + timedelta(minutes=15)))
    Appointment.objects.bulk_create(rows)
    desk = User.objects.create_user(username="desk")
    desk.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    return desk


def measure(client: HttpClient, url: str) -> list[float]:
    for _ in range(3):
        client.get(url)  # warm up
    timings = []
    for _ in range(RUNS):
        started = perf_counter()
        response = client.get(url)
        timings.append((perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return timings


def main() -> None:
    setup_test_environment()
    settings.ROOT_URLCONF = __name__
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    desk = seed()
    client = HttpClient()
    client.force_login(desk)
    html = client.get(f"/diary/?date={DAY}").content.decode()
    assert html.count('class="appt ') == PRACTITIONERS * PER_PRACTITIONER
    print(f"{PRACTITIONERS} practitioners x {PER_PRACTITIONER} appointments, {RUNS} requests each, "
          f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, page {len(html) // 1024} KiB")
    for name, url in (("bare view (600 plain rows)", f"/bare/?date={DAY}"), ("diary day view", f"/diary/?date={DAY}")):
        timings = sorted(measure(client, url))
        print(f"  {name:<28} median {statistics.median(timings):6.1f} ms   p90 {timings[int(RUNS * .9)]:6.1f} ms"
              f"   min {timings[0]:6.1f} ms")


if __name__ == "__main__":
    main()
