from celery import shared_task

from telehealth import services


@shared_task(ignore_result=True)
def zoom_reconcile() -> int:
    """Beat, every minute: retry pending Zoom creates and deletes whose next attempt is due, and apply webhook
    events whose task was lost."""
    return services.meetings_reconcile() + services.webhook_events_sweep()


@shared_task(ignore_result=True)
def meeting_sync_task(meeting_pk: int) -> None:
    """Queued on commit by meeting_plan/meeting_discard: the Zoom call happens here, never in a web request.

    Only the id travels (RELIABILITY.md 21). Safe to run twice: meeting_sync claims the row first.
    """
    services.meeting_sync(meeting_pk=meeting_pk)


@shared_task(ignore_result=True)
def webhook_apply_task(event_pk: int) -> None:
    """Queued on commit when a Zoom webhook was recorded: applies it once (the event row is claimed first)."""
    services.webhook_event_apply(event_pk=event_pk)


@shared_task(ignore_result=True)
def zoom_orphan_sweep() -> int:
    """Beat, nightly: delete meetings in Zoom that carry the app's reference but that the app no longer has."""
    return len(services.orphan_sweep().deleted)
