"""Messages to clients: telehealth details (R11–R13), usual reminders (R14, R15), SMS credits (R12),
the Scheduler, and provider status (RELIABILITY.md 5–9).

A send is a Message row first, with a unique key, debited in the same transaction; the provider is
called after commit by a Celery task that claims the row (QUEUED → SENDING), so a task delivered
twice or retried never sends twice.
"""

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks

from practice.audit import audit_record
from practice.errors import ApplicationError
from practice.models import Practice
from reminders import fixed, segments, usual
from reminders.models import (
    Channel,
    CreditEntry,
    Kind,
    Message,
    MessageStatus,
    ReminderSettings,
    ScheduledReminder,
    UsualTemplate,
)
from reminders.sms import SmsError, get_backend, status_is_newer
from scheduling.models import Appointment, Status
from telehealth.models import MeetingState

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FINAL = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.UNKNOWN)


class TransientSendError(Exception):
    """The provider failed in a way a retry can fix; the task retries with backoff."""


# Credits (R12) ------------------------------------------------------------------------------------------------

def credits_balance() -> int:
    return CreditEntry.objects.aggregate(total=Sum("amount"))["total"] or 0


@transaction.atomic
def credits_purchase(*, actor: User, amount: int, note: str = "") -> CreditEntry:
    if amount <= 0:
        raise ApplicationError("Enter a positive number of credits.", code="invalid_amount")
    entry = CreditEntry.objects.create(amount=amount, reason=CreditEntry.Reason.PURCHASE, note=note[:200],
                                       created_by=actor)
    audit_record(actor=actor, action="credits.purchased", obj=entry, summary=f"{amount} SMS credits added")
    return entry


def _debit(message: Message) -> None:
    # Lock the settings row so that two sends can't both spend the last credits.
    ReminderSettings.objects.select_for_update().get_or_create(pk=1)
    available = credits_balance()
    if available < message.credits:
        raise ApplicationError(f"Not enough SMS credits: this SMS needs {message.credits} and {available} "
                               f"{'is' if available == 1 else 'are'} available. A practice admin can add credits.",
                               code="no_credits")
    CreditEntry.objects.create(amount=-message.credits, reason=CreditEntry.Reason.DEBIT, message=message,
                               created_by=message.sent_by)


def _refund(message: Message, why: str) -> None:
    if message.credits and not CreditEntry.objects.filter(message=message, reason=CreditEntry.Reason.REFUND).exists():
        CreditEntry.objects.create(amount=message.credits, reason=CreditEntry.Reason.REFUND, message=message,
                                   note=why[:200])


# Queueing ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Draft:
    channel: str
    kind: str
    recipient: str
    subject: str
    body: str
    credits: int
    zoom_id: int | None = None  # the meeting a telehealth message carries


def _recipient(appointment: Appointment, channel: str) -> str:
    client = appointment.client
    recipient = client.mobile if channel == Channel.SMS else client.email
    if not recipient:
        what = "mobile number" if channel == Channel.SMS else "email address"
        raise ApplicationError(f"{client} has no {what}.", code="no_contact")
    return recipient


def _queue(*, actor: User | None, appointment: Appointment, draft: Draft, key: str) -> Message:
    """Save the message and its debit, then send after commit. Raises IntegrityError if the key exists."""
    message = Message(appointment=appointment, client=appointment.client, channel=draft.channel, kind=draft.kind,
                      key=key, recipient=draft.recipient, subject=draft.subject, body=draft.body,
                      credits=draft.credits, sent_by=actor if actor and actor.is_authenticated else None)
    with transaction.atomic():
        message.save()
        if message.credits:
            _debit(message)
        audit_record(actor=actor, action="message.queued", obj=message,
                     summary=f"{message.get_kind_display()} by {message.get_channel_display()} for appointment "
                             f"#{appointment.pk}", changes={"appointment": appointment.pk, "credits": message.credits})
    from reminders.tasks import message_send

    # Only the id travels to Celery (no patient data in task arguments).
    transaction.on_commit(lambda: message_send.delay(message.pk), robust=True)
    return message


def _telehealth_details(appointment: Appointment) -> fixed.TelehealthDetails:
    """What the fixed telehealth templates need; refused without a current meeting (R11)."""
    meeting = appointment.zoom_meeting
    if appointment.is_cancelled:
        raise ApplicationError("This appointment is cancelled.", code="cancelled")
    if (not appointment.is_telehealth or meeting is None or meeting.state != MeetingState.ACTIVE
            or meeting.zoom_id is None):
        raise ApplicationError("This appointment has no current Zoom meeting to send.", code="no_meeting")
    practice = Practice.load()
    client = appointment.client
    return fixed.TelehealthDetails(
        practice_name=practice.name, practice_phone=practice.phone, practice_email=practice.email,
        client_first_name=client.preferred_name or client.first_name,
        practitioner_name=appointment.practitioner.display_name, starts_at=appointment.starts_at,
        ends_at=appointment.ends_at, time_zone=practice.time_zone, join_url=meeting.join_url,
        meeting_id=meeting.zoom_id, passcode=meeting.passcode, topic=meeting.topic,
        uid=f"appointment-{appointment.pk}-meeting-{meeting.zoom_id}@practice-diary",
    )


def telehealth_details_draft(appointment: Appointment, channel: str) -> Draft:
    """The fixed telehealth message (R11, R13), always 2 credits by SMS (R12)."""
    details = _telehealth_details(appointment)
    recipient = _recipient(appointment, channel)
    if channel == Channel.SMS:
        return Draft(channel, Kind.TELEHEALTH, recipient, "", fixed.telehealth_sms(details),
                     segments.TELEHEALTH_SMS_CREDITS, details.meeting_id)
    subject, text, _html = fixed.telehealth_email(details)
    return Draft(channel, Kind.TELEHEALTH, recipient, subject, text, 0, details.meeting_id)


def telehealth_details_send(*, actor: User, appointment: Appointment, channel: str,
                            request_key: str) -> Message:
    """Send the Zoom details now, one appointment at a time, any time after booking (R11).

    ``request_key`` comes from the form that was shown, so a double click sends once.
    """
    draft = telehealth_details_draft(appointment, channel)
    key = f"telehealth:{channel}:{appointment.pk}:{draft.zoom_id}:{request_key[:40]}"
    try:
        return _queue(actor=actor, appointment=appointment, draft=draft, key=key)
    except IntegrityError:
        return Message.objects.get(key=key)


def usual_template(channel: str) -> UsualTemplate:
    subject, body = usual.DEFAULTS[channel]
    return UsualTemplate.objects.get_or_create(channel=channel, defaults={"subject": subject, "body": body})[0]


def usual_reminder_draft(appointment: Appointment, channel: str) -> Draft:
    recipient = _recipient(appointment, channel)
    template = usual_template(channel)
    values = usual.merge_values(appointment, Practice.load())
    body = usual.tidy(usual.render(template.body, values))
    if channel == Channel.SMS:
        return Draft(channel, Kind.USUAL, recipient, "", body, segments.usual_sms_credits(body))
    return Draft(channel, Kind.USUAL, recipient, usual.render(template.subject, values), body, 0)


def usual_reminder_queue(*, actor: User | None, appointment: Appointment, channel: str,
                         again: bool = False) -> Message | None:
    """Queue the usual reminder; None when it was already sent for this appointment time (and not ``again``).

    The key holds the appointment's time: a moved appointment is reminded again, a repeat sweep is not.
    """
    key = f"usual:{channel}:{appointment.pk}:{appointment.starts_at.isoformat()}"
    if again:
        key += f":again:{timezone.now().timestamp()}"
    elif Message.objects.filter(key=key).exists():
        return None
    draft = usual_reminder_draft(appointment, channel)
    try:
        return _queue(actor=actor, appointment=appointment, draft=draft, key=key)
    except IntegrityError:
        return None  # a concurrent sweep or click got there first


@dataclass
class BulkResult:
    queued: int = 0
    skipped: int = 0  # already sent for this time
    refused: list[str] = field(default_factory=list)


def usual_reminders_bulk(*, actor: User, appointments: list[Appointment], channels: list[str],
                         again: bool) -> BulkResult:
    """The reminders screen: usual reminders only, never telehealth details (R13)."""
    result = BulkResult()
    for appointment in appointments:
        for channel in channels:
            client = appointment.client
            wants = client.sms_reminders if channel == Channel.SMS else client.email_reminders
            if not wants:
                continue
            try:
                message = usual_reminder_queue(actor=actor, appointment=appointment, channel=channel, again=again)
            except ApplicationError as exc:
                result.refused.append(f"{client}: {exc.message}")
                continue
            if message is None:
                result.skipped += 1
            else:
                result.queued += 1
    return result


# Sending (Celery) -------------------------------------------------------------------------------------------

def _claim(message_pk: int) -> Message | None:
    claimed = Message.objects.filter(pk=message_pk, status=MessageStatus.QUEUED).update(status=MessageStatus.SENDING)
    return Message.objects.select_related("appointment", "client").get(pk=message_pk) if claimed else None


def _status_callback_url() -> str | None:
    if not settings.PUBLIC_BASE_URL:
        return None
    return settings.PUBLIC_BASE_URL + reverse("twilio-status")


def message_send(*, message_pk: int) -> None:
    """Send one queued message, once. Raises TransientSendError when a retry should follow."""
    message = _claim(message_pk)
    if message is None:
        return  # sent, being sent, or gone: a duplicate delivery does nothing
    try:
        provider_id, provider_status = _deliver(message)
    except SmsError as exc:
        _send_failed(message, exc.message, permanent=exc.permanent, maybe_sent=exc.maybe_sent)
        return
    except MeetingChanged as exc:
        _send_failed(message, str(exc), permanent=True, maybe_sent=False)
        return
    except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
        # The mail server may have taken the message before the line went quiet: no blind resend.
        _send_failed(message, f"Email status unknown: {exc.__class__.__name__}", permanent=False, maybe_sent=True)
        return
    except smtplib.SMTPRecipientsRefused as exc:
        _send_failed(message, f"The mail server refused the address ({exc.__class__.__name__}).", permanent=True,
                     maybe_sent=False)
        return
    except Exception as exc:  # noqa: BLE001 - connection refused, DNS, 4xx from SMTP: worth a retry
        _send_failed(message, f"Email could not be sent: {exc.__class__.__name__}", permanent=False,
                     maybe_sent=False)
        return
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.SENT, provider_id=provider_id, provider_status=provider_status, sent_at=timezone.now(),
        attempts=message.attempts + 1, error="")
    audit_record(actor=None, action="message.sent", obj=message, summary=f"Sent to the provider ({provider_id})")


class MeetingChanged(Exception):
    """The Zoom meeting was re-created after this message was queued: its details no longer work."""


def _check_meeting_unchanged(message: Message) -> None:
    if message.kind != Kind.TELEHEALTH:
        return
    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=message.appointment_id)
    queued_for = message.key.split(":")[3]
    meeting = appointment.zoom_meeting
    if meeting is None or str(meeting.zoom_id) != queued_for or meeting.state != MeetingState.ACTIVE:
        raise MeetingChanged("The Zoom meeting changed after this message was queued, so it was not sent. "
                             "Send the new details from the appointment.")


def _deliver(message: Message) -> tuple[str, str]:
    _check_meeting_unchanged(message)
    if message.channel == Channel.SMS:
        result = get_backend().send(to=message.recipient, body=message.body, status_callback=_status_callback_url())
        return result.provider_id, result.status
    practice = Practice.load()
    email = EmailMultiAlternatives(
        subject=message.subject, body=message.body, to=[message.recipient],
        from_email=formataddr((practice.name, practice.email or settings.DEFAULT_FROM_EMAIL)),
    )
    if message.kind == Kind.USUAL:
        email.attach_alternative(linebreaks(escape(message.body)), "text/html")
    if message.kind == Kind.TELEHEALTH:
        # The HTML part and the calendar invitation, from the same meeting the text was made from.
        appointment = Appointment.objects.select_related("zoom_meeting", "client", "practitioner").get(
            pk=message.appointment_id)
        details = _telehealth_details(appointment)
        email.attach_alternative(fixed.telehealth_email(details)[2], "text/html")
        email.attach("telehealth-appointment.ics", fixed.telehealth_ics(details), "text/calendar")
    email.send()
    return "", "sent"


def _send_failed(message: Message, error: str, *, permanent: bool, maybe_sent: bool) -> None:
    attempts = message.attempts + 1
    if maybe_sent:
        # The provider may have it: a person decides, nothing is resent blindly (RELIABILITY.md 6).
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.UNKNOWN, error=error[:300],
                                                     attempts=attempts)
        audit_record(actor=None, action="message.unknown", obj=message, summary=error)
        return
    if permanent or attempts >= MAX_ATTEMPTS:
        with transaction.atomic():
            Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, error=error[:300],
                                                         attempts=attempts)
            _refund(message, error)
        audit_record(actor=None, action="message.failed", obj=message, summary=error)
        return
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.QUEUED, error=error[:300], attempts=attempts)
    raise TransientSendError(error)


def provider_status_update(*, provider_id: str, status: str, error_code: str = "") -> bool:
    """Twilio's status callback: statuses only move forward; a late "sent" never overwrites "delivered"."""
    message = Message.objects.filter(provider_id=provider_id).first()
    if message is None or not status_is_newer(message.provider_status or "sent", status):
        return False
    ours = {"delivered": MessageStatus.DELIVERED, "undelivered": MessageStatus.FAILED,
            "failed": MessageStatus.FAILED}.get(status, message.status)
    error = f"Twilio error {error_code}" if error_code and ours == MessageStatus.FAILED else message.error
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(provider_status=status, status=ours, error=error)
        if ours == MessageStatus.FAILED:
            _refund(message, error or f"Twilio reported {status}")  # the provider rejected it for good
    return True


STALE_QUEUED = timedelta(minutes=5)
STALE_SENDING = timedelta(minutes=15)


def messages_recover(*, now: datetime | None = None) -> int:
    """Beat: re-enqueue messages whose task never ran (broker down) and flag sends that never finished.

    A row left SENDING means a worker died mid-send: the provider may have it, so it becomes UNKNOWN for a
    person to check, never resent blindly.
    """
    from reminders.tasks import message_send

    now = now or timezone.now()
    stuck = Message.objects.filter(status=MessageStatus.SENDING, updated_at__lt=now - STALE_SENDING)
    for message in stuck:
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.UNKNOWN, error="The send did not finish; check with the client before resending.")
    waiting = list(Message.objects.filter(status=MessageStatus.QUEUED, updated_at__lt=now - STALE_QUEUED)
                   .values_list("pk", flat=True)[:500])
    for pk in waiting:
        message_send.delay(pk)
    return len(waiting)


# The Scheduler ----------------------------------------------------------------------------------------------

def _in_quiet_hours(moment: datetime, config: ReminderSettings, zone) -> bool:
    local = moment.astimezone(zone).time()
    start, end = config.quiet_start, config.quiet_end
    return (start <= local or local < end) if start > end else (start <= local < end)


def reminder_due_at(appointment: Appointment, config: ReminderSettings, zone) -> datetime:
    """When the Scheduler sends: lead time before the start, pushed out of quiet hours to their end."""
    due = appointment.starts_at - timedelta(hours=config.lead_hours)
    if _in_quiet_hours(due, config, zone):
        local = due.astimezone(zone)
        end = local.replace(hour=config.quiet_end.hour, minute=config.quiet_end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        due = end
    return due


def reminders_arm(appointment: Appointment) -> None:
    """Keep the appointment's scheduled reminders in step with it (called whenever it is saved)."""
    current = ScheduledReminder.objects.filter(appointment=appointment, state=ScheduledReminder.State.ARMED)
    if appointment.status != Status.BOOKED:
        current.update(state=ScheduledReminder.State.RETIRED, note="The appointment is no longer booked.")
        return
    current.exclude(for_starts_at=appointment.starts_at).update(
        state=ScheduledReminder.State.RETIRED, note="The appointment moved to another time.")
    if appointment.starts_at <= timezone.now():
        return
    due = reminder_due_at(appointment, ReminderSettings.load(), Practice.load().zone)
    for channel in Channel.values:
        reminder, created = ScheduledReminder.objects.get_or_create(
            appointment=appointment, channel=channel, for_starts_at=appointment.starts_at,
            defaults={"due_at": due})
        if not created and reminder.state == ScheduledReminder.State.RETIRED:
            # Reinstated, or moved back to a time it had before: due again unless already sent.
            ScheduledReminder.objects.filter(pk=reminder.pk).update(state=ScheduledReminder.State.ARMED, due_at=due,
                                                                    note="")


def reminders_rearm_all() -> None:
    """The lead time or quiet hours changed: every armed future reminder gets its new due time."""
    config, zone = ReminderSettings.load(), Practice.load().zone
    armed = ScheduledReminder.objects.filter(state=ScheduledReminder.State.ARMED).select_related("appointment")
    for reminder in armed:
        due = reminder_due_at(reminder.appointment, config, zone)
        if due != reminder.due_at:
            ScheduledReminder.objects.filter(pk=reminder.pk).update(due_at=due)


def _arm_missing(now: datetime, config: ReminderSettings) -> None:
    """A safety net for appointments saved without their reminders (bulk loads, data fixes)."""
    unarmed = (Appointment.objects.filter(status=Status.BOOKED, starts_at__gt=now,
                                          starts_at__lte=now + timedelta(hours=config.lead_hours + 13))
               .exclude(scheduled_reminders__isnull=False))
    for appointment in unarmed:
        reminders_arm(appointment)


def scheduler_sweep(*, now: datetime | None = None) -> int:
    """Beat, every few minutes: send the armed usual reminders that are due, exactly once per appointment time.

    Never telehealth details (R13). The schedule is the ScheduledReminder table: cancelled appointments have
    retired rows, a moved one a new row for its new time, a reinstated one its row armed again.
    """
    now = now or timezone.now()
    config = ReminderSettings.load()
    if not config.scheduler_enabled:
        return 0
    zone = Practice.load().zone
    if _in_quiet_hours(now, config, zone):
        return 0
    _arm_missing(now, config)
    due = (ScheduledReminder.objects.filter(state=ScheduledReminder.State.ARMED, due_at__lte=now)
           .select_related("appointment__client", "appointment__practitioner", "appointment__location"))
    queued = 0
    for reminder in due:
        queued += _send_scheduled(reminder, now)
    return queued


def _send_scheduled(reminder: ScheduledReminder, now: datetime) -> bool:
    appointment = reminder.appointment
    client = appointment.client
    wants = client.sms_reminders if reminder.channel == Channel.SMS else client.email_reminders
    outcome, note, message = ScheduledReminder.State.SKIPPED, "", None
    if appointment.status != Status.BOOKED or appointment.starts_at != reminder.for_starts_at:
        outcome, note = ScheduledReminder.State.RETIRED, "The appointment changed."
    elif appointment.starts_at <= now:
        note = "The appointment had already started."
    elif not wants:
        note = "The client does not want reminders by this channel."
    else:
        try:
            message = usual_reminder_queue(actor=None, appointment=appointment, channel=reminder.channel)
            outcome = ScheduledReminder.State.SENT
            note = "" if message else "Already sent for this appointment time."
        except ApplicationError as exc:
            note = exc.message
            logger.warning("Reminder for appointment %s by %s not sent: %s", appointment.pk, reminder.channel,
                           exc.code)
    ScheduledReminder.objects.filter(pk=reminder.pk, state=ScheduledReminder.State.ARMED).update(
        state=outcome, note=note[:300], message=message)
    return message is not None
