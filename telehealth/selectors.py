from dataclasses import dataclass
from datetime import UTC, timedelta

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone

from practice.models import Practitioner
from telehealth.models import (
    ConnectionStatus,
    MeetingState,
    OrphanSweep,
    PracticeZoomApp,
    ZoomConnection,
    ZoomDailyUsage,
    ZoomMeeting,
)
from telehealth.services import DAILY_LIMIT, DAILY_WARN_AT

# A create or delete still pending after this long is no longer "in progress": a person should know.
ATTENTION_AFTER = timedelta(minutes=15)
PENDING = (MeetingState.PENDING_CREATE, MeetingState.PENDING_DELETE)


@dataclass(frozen=True)
class DailyUsage:
    """Today's (UTC) meeting creates and updates the app sent for one Zoom user, out of Zoom's 100."""

    count: int
    limit: int = DAILY_LIMIT

    @property
    def warn(self) -> bool:
        return self.count >= DAILY_WARN_AT


def practitioners_with_connections() -> list[tuple[Practitioner, ZoomConnection | None, DailyUsage | None]]:
    """Each active practitioner, their connection and its Zoom user's creates and updates today (3 queries)."""
    practitioners = list(Practitioner.objects.filter(is_active=True).order_by("display_name"))
    connections = {c.practitioner_id: c for c in ZoomConnection.objects.filter(practitioner__in=practitioners)}
    usage = daily_usage_today()
    return [(practitioner, connection, DailyUsage(usage.get(connection.zoom_user.lower(), 0)) if connection else None)
            for practitioner in practitioners
            for connection in [connections.get(practitioner.pk)]]


def daily_usage_today() -> dict[str, int]:
    """Zoom user (lower-cased) → the meeting creates and updates the app sent for it today (UTC)."""
    today = timezone.now().astimezone(UTC).date()
    return dict(ZoomDailyUsage.objects.filter(day=today).values_list("host_user", "count"))


def practice_app_get() -> PracticeZoomApp | None:
    return PracticeZoomApp.load()


def connections_using_practice_app() -> QuerySet[ZoomConnection]:
    return (ZoomConnection.objects.filter(uses_practice_app=True, practitioner__is_active=True)
            .select_related("practitioner").order_by("practitioner__display_name", "pk"))


def zoom_users_taken(*, except_practitioner: Practitioner | None = None) -> dict[str, str]:
    """Zoom user (lower-cased) → the practitioner using it, to mark a choice already in use."""
    rows = ZoomConnection.objects.exclude(practitioner=except_practitioner).select_related("practitioner")
    return {row.zoom_user.lower(): row.practitioner.display_name for row in rows}


def practitioner_get(pk: int) -> Practitioner:
    try:
        return Practitioner.objects.get(pk=pk)
    except Practitioner.DoesNotExist as exc:
        raise Http404("No such practitioner.") from exc


def meeting_get(pk: int) -> ZoomMeeting:
    return ZoomMeeting.objects.get(pk=pk)


def meetings_still_deleting(*, appointment_pk: int, exclude_pk: int | None = None) -> list[ZoomMeeting]:
    """The appointment's earlier meetings Zoom has not deleted yet (R7, R8, R9 let go of them), oldest first."""
    return list(ZoomMeeting.objects.filter(appointment_pk=appointment_pk, state=MeetingState.PENDING_DELETE)
                .exclude(pk=exclude_pk or 0).order_by("created_at"))


def meetings_needing_attention() -> QuerySet[ZoomMeeting]:
    """ZoomMeeting rows a person must act on, not yet marked resolved (oldest problem first).

    - creates that FAILED (a "Try again" replaces the row, so a failed row is an open problem);
    - creates or deletes still pending after ATTENTION_AFTER (since ``pending_since``, or ``created_at`` for
      rows older than that field);
    - pending rows whose last error needs a person (``needs_person``: Zoom 3000/3003/3007, credentials, scopes,
      an unconfirmed create that cannot be looked for);
    - creates held by Zoom's daily limit (the practitioner's connection has ``daily_limit_until`` ahead);
    - meetings deleted in Zoom outside the app (Re-create), or changed there (Restore), per Zoom's webhooks.
    Rows come with ``practitioner`` selected. A QuerySet, so callers can count it in SQL.
    """
    now = timezone.now()
    stale = now - ATTENTION_AFTER
    pending_too_long = Q(state__in=PENDING) & (
        Q(pending_since__lt=stale) | Q(pending_since__isnull=True, created_at__lt=stale))
    held = Q(state=MeetingState.PENDING_CREATE, practitioner__zoom_connection__daily_limit_until__gt=now)
    changed_in_zoom = (Q(state=MeetingState.DELETED, deleted_in_zoom_at__isnull=False)
                       | Q(state=MeetingState.ACTIVE, changed_in_zoom_at__isnull=False))
    return (ZoomMeeting.objects
            .filter(Q(state=MeetingState.FAILED) | pending_too_long | Q(state__in=PENDING, needs_person=True) | held
                    | changed_in_zoom)
            .filter(attention_resolved_at__isnull=True)
            .select_related("practitioner")
            .order_by("updated_at", "pk"))


def connections_failing() -> QuerySet[ZoomConnection]:
    """Connections marked FAILING (a permanent reason: credentials, scopes, Zoom user), longest failing first."""
    return (ZoomConnection.objects.filter(status=ConnectionStatus.FAILING)
            .select_related("practitioner").order_by("status_since", "pk"))


def connections_on_daily_hold() -> QuerySet[ZoomConnection]:
    """Connections whose Zoom user used up Zoom's daily create/update limit; ``daily_limit_until`` is the reset."""
    return (ZoomConnection.objects.filter(daily_limit_until__gt=timezone.now())
            .select_related("practitioner").order_by("daily_limit_until", "pk"))


def daily_usage_warnings() -> QuerySet[ZoomDailyUsage]:
    """Zoom users that used DAILY_WARN_AT or more of today's (UTC) creates and updates, not already held (a held
    user is listed by ``connections_on_daily_hold``), most used first."""
    today = timezone.now().astimezone(UTC).date()
    held = (ZoomConnection.objects.filter(daily_limit_until__gt=timezone.now())
            .annotate(host=Lower("zoom_user")).values("host"))
    return (ZoomDailyUsage.objects.filter(day=today, count__gte=DAILY_WARN_AT).exclude(host_user__in=held)
            .order_by("-count", "pk"))


def orphan_sweeps_to_report() -> QuerySet[OrphanSweep]:
    """Orphan sweeps that deleted meetings or met problems, not dismissed yet, oldest first."""
    return (OrphanSweep.objects.filter(dismissed_at__isnull=True).exclude(deleted=[], problems=[])
            .order_by("ran_at", "pk"))
