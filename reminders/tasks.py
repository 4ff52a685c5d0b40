from celery import shared_task

from reminders import services


@shared_task(autoretry_for=(services.TransientSendError,), retry_backoff=30, retry_backoff_max=900,
             retry_jitter=True, max_retries=services.MAX_ATTEMPTS, ignore_result=True)
def message_send(message_pk: int) -> None:
    """Send one message by id; the claim in the service makes a duplicate delivery harmless."""
    services.message_send(message_pk=message_pk)


@shared_task(ignore_result=True)
def reminders_sweep() -> int:
    """Beat: queue the usual reminders that are due (the database is the schedule), and recover stuck sends."""
    services.messages_recover()
    return services.scheduler_sweep()


@shared_task(ignore_result=True)
def reminders_send_due() -> int:
    """Credits were bought: send the reminders held for credits (and anything else due) now, not at the next beat."""
    return services.scheduler_sweep()
