"""Keep the Scheduler's rows in step with appointments and settings.

Signals, because scheduling may not import reminders (DESIGN.md §4): the booking services stay unaware of
reminders, and every save of an appointment (book, move, status, cancel, reinstate) re-arms its reminders
inside the same transaction.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from reminders import services
from reminders.models import ReminderSettings
from scheduling.models import Appointment


@receiver(post_save, sender=Appointment, dispatch_uid="reminders-arm")
def appointment_saved(sender, instance: Appointment, created: bool = False, raw: bool = False, **kwargs) -> None:
    if not raw:
        services.reminders_arm(instance, new=created)


@receiver(post_save, sender=ReminderSettings, dispatch_uid="reminders-rearm")
def settings_saved(sender, instance: ReminderSettings, raw: bool = False, **kwargs) -> None:
    if not raw:
        services.reminders_rearm_all()
