from datetime import date, timedelta

from django.db.models import Prefetch, QuerySet

from practice.models import Practice
from practice.timezones import day_bounds
from reminders.models import CreditEntry, Message
from scheduling.models import Appointment, Status


def next_business_day(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def day_appointments(day: date) -> list[Appointment]:
    """The reminders screen: a day's booked appointments with what was already sent (fixed query count)."""
    start, end = day_bounds(day, Practice.load().zone)
    return list(
        Appointment.objects.filter(starts_at__gte=start, starts_at__lt=end)
        .exclude(status=Status.CANCELLED)
        .select_related("client", "practitioner", "location", "zoom_meeting")
        .prefetch_related(Prefetch("messages", queryset=Message.objects.order_by("created_at")))
        .order_by("starts_at", "practitioner__display_name")
    )


def messages_filtered(*, status: str = "", channel: str = "", kind: str = "", day: date | None = None
                      ) -> QuerySet[Message]:
    messages = Message.objects.select_related("client", "appointment", "sent_by")
    if status:
        messages = messages.filter(status=status)
    if channel:
        messages = messages.filter(channel=channel)
    if kind:
        messages = messages.filter(kind=kind)
    if day:
        start, end = day_bounds(day, Practice.load().zone)
        messages = messages.filter(created_at__gte=start, created_at__lt=end)
    return messages


def credit_entries() -> QuerySet[CreditEntry]:
    return CreditEntry.objects.select_related("created_by", "message")
