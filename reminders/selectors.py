from datetime import date, datetime, timedelta

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from practice.models import Practice
from practice.timezones import day_bounds
from reminders.models import (
    CreditEntry,
    InboundMessage,
    InboundOutcome,
    Message,
    MessageStatus,
    ScheduledReminder,
    SmsOptOut,
)
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
        .prefetch_related(Prefetch("messages", queryset=Message.objects.order_by("created_at")),
                          Prefetch("scheduled_reminders", queryset=current_scheduled_reminders()))
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


def current_scheduled_reminders() -> QuerySet[ScheduledReminder]:
    """The Scheduler's rows that say something now: not those retired by a move or cancellation."""
    return (ScheduledReminder.objects.exclude(state=ScheduledReminder.State.RETIRED)
            .filter(for_starts_at=F("appointment__starts_at")).order_by("channel"))


def messages_needing_attention(*, now: datetime | None = None) -> QuerySet[Message]:
    """Messages a person must act on (Needs attention), oldest first.

    FAILED or UNKNOWN and not yet resolved (``resolution`` empty), and sends cut off: SENDING for longer than
    ``services.STALE_SENDING`` (before the recovery sweep marks them UNKNOWN). A message leaves the list when a
    person acts on it (``message_mark_sent``, ``message_send_again``, ``message_mark_not_sent``) or when a newer
    message of the same kind and channel is queued for the appointment.
    """
    from reminders.services import STALE_SENDING

    now = now or timezone.now()
    return (Message.objects.filter(resolution="")
            .filter(Q(status__in=[MessageStatus.FAILED, MessageStatus.UNKNOWN])
                    | Q(status=MessageStatus.SENDING, updated_at__lt=now - STALE_SENDING))
            .order_by("created_at", "pk"))


def scheduled_reminders_needing_attention(*, now: datetime | None = None) -> QuerySet[ScheduledReminder]:
    """Scheduler reminders not sent that a person may still act on (Needs attention), oldest first.

    Waiting for credits, or not sent (no mobile or email, too late, refused), not dismissed
    (``resolved_at`` empty), for an appointment still booked at the reminder's time that has not ended yet.
    "Not wanted" (the client's choice) is never listed. A row leaves the list when it is sent (by the sweep
    after credits are bought, or ``scheduled_reminder_send_now``), dismissed (``scheduled_reminder_dismiss``),
    retired by a move or cancellation, or when the appointment has ended.
    """
    now = now or timezone.now()
    return (ScheduledReminder.objects
            .filter(state__in=[ScheduledReminder.State.HELD, ScheduledReminder.State.NOT_SENT],
                    resolved_at__isnull=True, appointment__status=Status.BOOKED,
                    appointment__starts_at=F("for_starts_at"), appointment__ends_at__gt=now)
            .order_by("updated_at", "pk"))


def cancel_requests_needing_attention(*, now: datetime | None = None) -> QuerySet[InboundMessage]:
    """Cancellation requests (an SMS "N") for staff to decide (Needs attention), oldest first.

    A request leaves the list when staff keep the appointment (``inbound.inbound_mark_handled``), when it is
    cancelled through the normal cancel service (from its panel) or otherwise no longer booked, or once it has ended.
    """
    now = now or timezone.now()
    return (InboundMessage.objects
            .filter(outcome=InboundOutcome.CANCEL_REQUEST, handled_at__isnull=True,
                    appointment__status=Status.BOOKED, appointment__ends_at__gt=now)
            .order_by("received_at", "pk"))


def inbox_messages() -> QuerySet[InboundMessage]:
    """The Inbox: every inbound SMS, newest first, with the client and appointment it was matched to."""
    return InboundMessage.objects.select_related("client", "appointment__practitioner", "handled_by")


def sms_opt_out(number: str) -> SmsOptOut | None:
    """The number's opt-out if it replied STOP and not START since; None when SMS may go to it."""
    if not number:
        return None
    return SmsOptOut.objects.filter(number=number, opted_out_at__isnull=False).first()
