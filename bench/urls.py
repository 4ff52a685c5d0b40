"""The floor: the plainest Django view that reads the diary's rows, to measure the diary against.

One ``select_related`` query of the day's appointments, rendered by a minimal template with the client's
name, the practitioner, start and end. No login, no session, no practice settings: the honest minimum that
Django, the database and the template engine cost for the same rows.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from scheduling.models import Appointment

ZONE = ZoneInfo("Australia/Sydney")  # the demo practice's zone, fixed here so the floor reads nothing else
FLOOR = engines["django"].from_string(
    "<!doctype html><title>floor</title><table>{% for a in rows %}<tr><td>{{ a.client.first_name }} "
    "{{ a.client.last_name }}</td><td>{{ a.practitioner.display_name }}</td><td>{{ a.starts_at|time:'H:i' }}</td>"
    "<td>{{ a.ends_at|time:'H:i' }}</td></tr>{% endfor %}</table>"
)


@login_not_required
def floor(request):
    day = date.fromisoformat(request.GET["date"])
    start = datetime.combine(day, time(), ZONE)
    rows = (Appointment.objects.filter(starts_at__gte=start, starts_at__lt=start + timedelta(days=1))
            .select_related("client", "practitioner").order_by("starts_at"))
    return HttpResponse(FLOOR.render({"rows": rows}))


urlpatterns = [path("bench-floor/", floor), path("", include("config.urls"))]
