from celery import shared_task

from telehealth import services


@shared_task(ignore_result=True)
def zoom_reconcile() -> int:
    """Beat, every minute: retry pending Zoom creates and deletes whose next attempt is due."""
    return services.meetings_reconcile()
