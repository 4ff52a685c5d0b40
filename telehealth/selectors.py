from django.http import Http404

from practice.models import Practitioner
from telehealth.models import ZoomConnection, ZoomMeeting


def practitioners_with_connections() -> list[tuple[Practitioner, ZoomConnection | None]]:
    practitioners = list(Practitioner.objects.filter(is_active=True).order_by("display_name"))
    connections = {c.practitioner_id: c for c in ZoomConnection.objects.filter(practitioner__in=practitioners)}
    return [(practitioner, connections.get(practitioner.pk)) for practitioner in practitioners]


def practitioner_get(pk: int) -> Practitioner:
    try:
        return Practitioner.objects.get(pk=pk)
    except Practitioner.DoesNotExist as exc:
        raise Http404("No such practitioner.") from exc


def meeting_get(pk: int) -> ZoomMeeting:
    return ZoomMeeting.objects.get(pk=pk)
