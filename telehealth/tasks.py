from celery import shared_task

from telehealth import services


@shared_task(ignore_result=True)
def zoom_reconcile() -> int:
    """Beat, every minute: retry pending Zoom creates and deletes whose next attempt is due."""
    return services.meetings_reconcile()


@shared_task(ignore_result=True)
def meeting_sync_task(meeting_pk: int) -> None:
    """Queued on commit by meeting_plan/meeting_discard: the Zoom call happens here, never in a web request.

    Only the id travels (RELIABILITY.md 21). Safe to run twice: meeting_sync claims the row first.
    """
    services.meeting_sync(meeting_pk=meeting_pk)
