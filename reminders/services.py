"""Messages to clients: telehealth details (R11–R13), usual reminders (R14, R15), SMS credits (R12),
the Scheduler, and provider status (RELIABILITY.md 5–9).

A send is a Message row first, with a unique key, debited in the same transaction; the provider is
called after commit by a Celery task that claims the row (QUEUED → SENDING), so a task delivered
twice or retried never sends twice.
"""

import logging
import re
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.utils import formataddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.html import linebreaks, urlize

from practice.audit import audit_record, field_changes
from practice.errors import ApplicationError
from practice.models import Client, Practice
from reminders import fixed, segments, usual
from reminders.models import (
    PURCHASE_MAX,
    Channel,
    CreditEntry,
    InboundMessage,
    InboundOutcome,
    Kind,
    Message,
    MessageStatus,
    ReminderSettings,
    Resolution,
    ScheduledReminder,
    SmsOptOut,
    UsualTemplate,
)
from reminders.selectors import sms_opt_out
from reminders.sms import SmsError, get_backend, status_is_newer
from scheduling import services as scheduling_services
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


@dataclass(frozen=True)
class TopBarFigures:
    sms_credits: int
    low_balance_warning: int
    inbox_unread: int


def top_bar_figures() -> TopBarFigures:
    """The SMS credit balance, the low-balance threshold and the Inbox's unread count in one query, for the top
    bar of every page.

    A read only (no get_or_create), so a page costs the same whether or not the settings row exists yet.
    """
    quote = connection.ops.quote_name
    amount = quote(CreditEntry._meta.get_field("amount").column)
    warning_column = quote(ReminderSettings._meta.get_field("low_balance_warning").column)
    inbound = InboundMessage._meta
    outcome = quote(inbound.get_field("outcome").column)
    handled = quote(inbound.get_field("handled_at").column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COALESCE(SUM({amount}), 0) FROM {quote(CreditEntry._meta.db_table)}), "  # noqa: S608
            f"(SELECT {warning_column} FROM {quote(ReminderSettings._meta.db_table)} WHERE id = 1), "
            f"(SELECT COUNT(*) FROM {quote(inbound.db_table)} WHERE {outcome} = %s AND {handled} IS NULL)",
            [InboundOutcome.INBOX])
        balance, warning, unread = cursor.fetchone()
    default = ReminderSettings._meta.get_field("low_balance_warning").default
    return TopBarFigures(int(balance), default if warning is None else warning, int(unread))


@transaction.atomic
def credits_purchase(*, actor: User, amount: int, note: str = "") -> CreditEntry:
    if not 0 < amount <= PURCHASE_MAX:
        raise ApplicationError(f"Enter a number of credits from 1 to {PURCHASE_MAX:,}.", code="invalid_amount")
    entry = CreditEntry(amount=amount, reason=CreditEntry.Reason.PURCHASE, note=note.strip(), created_by=actor)
    try:
        entry.full_clean()
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="invalid") from None
    entry.save()
    held = ScheduledReminder.objects.filter(state=ScheduledReminder.State.HELD).count()
    balance = credits_balance()
    waiting = f"; {held} Scheduler reminder(s) waiting for credits go out now" if held else ""
    audit_record(actor=actor, action="credits.purchased", obj=entry, summary=f"{amount} SMS credits added{waiting}",
                 changes=field_changes({"amount": None, "note": "", "balance": balance - amount},
                                       {"amount": amount, "note": entry.note, "balance": balance}))
    if held:
        from reminders.tasks import reminders_send_due

        # The Scheduler reminders held for credits go out now (the sweep retries them while their
        # appointment is ahead and outside quiet hours), not at the next beat.
        transaction.on_commit(lambda: reminders_send_due.delay(), robust=True)
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


# Settings -----------------------------------------------------------------------------------------------------

@transaction.atomic
def reminder_settings_update(*, actor: User, scheduler_enabled: bool, lead_hours: int, quiet_start: time,
                             quiet_end: time, low_balance_warning: int) -> ReminderSettings:
    """Save the Scheduler's settings (validated by the model's bounds); armed reminders get their new due times."""
    config = ReminderSettings.objects.select_for_update().get_or_create(pk=1)[0]
    before = {name: getattr(config, name) for name in SETTINGS_FIELDS}
    config.scheduler_enabled, config.lead_hours = scheduler_enabled, lead_hours
    config.quiet_start, config.quiet_end, config.low_balance_warning = quiet_start, quiet_end, low_balance_warning
    try:
        config.full_clean()
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="invalid") from None
    changes = field_changes(before, {name: getattr(config, name) for name in SETTINGS_FIELDS})
    if not changes:  # saving the page unchanged is no change: nothing to re-time, nothing for the trail
        return config
    config.save()  # the post_save signal re-times every armed reminder
    audit_record(actor=actor, action="reminders.settings_changed", obj=config, summary="Reminder settings changed",
                 changes=changes)
    return config


SETTINGS_FIELDS = ["scheduler_enabled", "lead_hours", "quiet_start", "quiet_end", "low_balance_warning"]


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


def _opted_out_error(opt_out: SmsOptOut) -> ApplicationError:
    local = opt_out.opted_out_at.astimezone(Practice.load().zone) if opt_out.opted_out_at else None
    since = f" since {local.day} {local:%b %Y}" if local else ""
    return ApplicationError(f"Not sent: this mobile opted out of SMS{since} (it replied STOP). It receives SMS again "
                            "once the client replies START.", code="opted_out")


def _refuse_if_opted_out(channel: str, recipient: str) -> None:
    if channel == Channel.SMS and (opt_out := sms_opt_out(recipient)) is not None:
        raise _opted_out_error(opt_out)


def _one_line(text: str) -> str:
    """A header value (subject, From name) on one line: CR/LF in stored data must never fail every email."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())


def _queue(*, actor: User | AnonymousUser | None, appointment: Appointment | None, draft: Draft, key: str,
           client: Client | None = None) -> Message:
    """Save the message and its debit, then send after commit. Raises IntegrityError if the key exists.

    Refused (ApplicationError "opted_out") for an SMS to a number that replied STOP. Earlier failed or unknown
    messages of the same kind and channel for the appointment are resolved as "sent again" by this one: the new
    send is the answer to them, so they leave Needs attention (not for replies: each says something else).
    ``client`` defaults to the appointment's; a reply to an unknown number has neither.
    """
    _refuse_if_opted_out(draft.channel, draft.recipient)
    sender = actor if actor is not None and actor.is_authenticated else None
    if client is None and appointment is not None:
        client = appointment.client
    message = Message(appointment=appointment, client=client, channel=draft.channel, kind=draft.kind,
                      key=key, recipient=draft.recipient, subject=_one_line(draft.subject), body=draft.body,
                      credits=draft.credits, sent_by=sender)
    about = f"appointment #{appointment.pk}" if appointment is not None else "no appointment"
    with transaction.atomic():
        message.save()
        if message.credits:
            _debit(message)
        audit_record(actor=actor, action="message.queued", obj=message,
                     summary=f"{message.get_kind_display()} by {message.get_channel_display()} for {about}",
                     changes={"appointment": appointment.pk if appointment else None, "credits": message.credits})
        if appointment is not None and draft.kind != Kind.REPLY:
            Message.objects.filter(
                appointment=appointment, kind=draft.kind, channel=draft.channel, resolution="",
                status__in=[MessageStatus.FAILED, MessageStatus.UNKNOWN],
            ).exclude(pk=message.pk).update(resolution=Resolution.SENT_AGAIN, resolved_at=timezone.now(),
                                            resolved_by=sender, replaced_by=message)
    from reminders.tasks import message_send

    # Only the id travels to Celery (no patient data in task arguments).
    transaction.on_commit(lambda: message_send.delay(message.pk), robust=True)
    return message


def reply_queue(*, actor: User, recipient: str, body: str, key: str, appointment: Appointment | None = None,
                client: Client | None = None) -> Message:
    """An SMS answering a client's inbound SMS (the Inbox): 1 credit per segment, like a usual SMS (R12).

    Raises IntegrityError when ``key`` was used already (a double click), ApplicationError when refused.
    """
    draft = Draft(Channel.SMS, Kind.REPLY, recipient, "", body, segments.usual_sms_credits(body))
    return _queue(actor=actor, appointment=appointment, client=client, draft=draft, key=key)


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
        # The same event as the client page's "Add to calendar": a later copy replaces it (issue 11).
        uid=appointment.calendar_uid, sequence=appointment.calendar_sequence,
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


def _telehealth_key(appointment: Appointment, channel: str, zoom_id: int | None) -> str:
    # The meeting id sits at index 3: the sender checks it against the current meeting before sending.
    return f"telehealth:{channel}:{appointment.pk}:{zoom_id}"


def telehealth_last_sent(appointment: Appointment, channel: str) -> Message | None:
    """The latest telehealth message by ``channel`` carrying the appointment's current meeting, if any."""
    meeting = appointment.zoom_meeting
    if meeting is None or meeting.zoom_id is None:
        return None
    base = _telehealth_key(appointment, channel, meeting.zoom_id)
    return (Message.objects.filter(appointment=appointment, kind=Kind.TELEHEALTH, channel=channel)
            .filter(Q(key=base) | Q(key__startswith=base + ":")).select_related("sent_by").order_by("-pk").first())


def sender_name(message: Message) -> str:
    user = message.sent_by
    if user is None:
        return "the Scheduler"
    return user.get_full_name() or user.username


def _already_sent(message: Message) -> ApplicationError:
    local = message.created_at.astimezone(Practice.load().zone)
    when = f"{local:%H:%M} on {local:%a} {local.day} {local:%b}"
    what = "SMS" if message.channel == Channel.SMS else "email"
    if message.status == MessageStatus.FAILED:
        text = (f"The Zoom details {what} for this meeting was tried at {when} by {sender_name(message)} and "
                f"failed. Use “Send again” on the appointment to try again.")
    else:
        text = (f"The Zoom details {what} for this meeting was already sent at {when} by {sender_name(message)} "
                f"({message.get_status_display().lower()}). To send it again, confirm “Send again”.")
    return ApplicationError(text, code="already_sent", extra={"message_pk": message.pk})


def telehealth_details_send(*, actor: User, appointment: Appointment, channel: str,
                            again_after: int | None = None) -> Message:
    """Send the Zoom details now, one appointment at a time, any time after booking (R11).

    Once per (appointment, meeting, channel): a second send, from a second panel, a double click or a
    concurrent request, is refused with when and by whom it was sent (ApplicationError code "already_sent",
    ``extra["message_pk"]``). A person sends again by confirming it: ``again_after`` is the pk of the latest
    message they saw, so two people confirming the same "Send again" still send once. The unique message
    key enforces this in the database, also under concurrency.
    """
    draft = telehealth_details_draft(appointment, channel)
    latest = telehealth_last_sent(appointment, channel)
    if latest is not None and again_after != latest.pk:
        raise _already_sent(latest)
    key = _telehealth_key(appointment, channel, draft.zoom_id)
    if latest is not None:
        key += f":again:{latest.pk}"
    try:
        return _queue(actor=actor, appointment=appointment, draft=draft, key=key)
    except IntegrityError:
        raise _already_sent(Message.objects.select_related("sent_by").get(key=key)) from None


def usual_template(channel: str) -> UsualTemplate:
    subject, body = usual.DEFAULTS[channel]
    return UsualTemplate.objects.get_or_create(channel=channel, defaults={"subject": subject, "body": body})[0]


@transaction.atomic
def usual_templates_update(*, actor: User, sms_body: str, email_subject: str, email_body: str) -> list[UsualTemplate]:
    """Save the usual SMS and email templates (R14), edited together on one page: one audit event for the save.

    Text is stored with LF line breaks, so an SMS costs what the preview counted. Returns the templates changed.
    """
    wanted = {Channel.SMS: {"subject": "", "body": sms_body},
              Channel.EMAIL: {"subject": email_subject, "body": email_body}}
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    changed: list[UsualTemplate] = []
    for channel, values in wanted.items():
        usual_template(channel)
        template = UsualTemplate.objects.select_for_update().get(channel=channel)
        old = {"subject": template.subject, "body": template.body}
        template.subject = values["subject"]
        template.body = usual.normalise_newlines(values["body"])
        try:
            template.full_clean()
        except ValidationError as exc:
            raise ApplicationError(f"{template.get_channel_display()}: {' '.join(exc.messages)}",
                                   code="invalid") from None
        new = {"subject": template.subject, "body": template.body}
        if new != old:
            template.updated_by = actor
            template.save()
            changed.append(template)
        for name in ("subject", "body") if channel == Channel.EMAIL else ("body",):
            before[f"{channel}_{name}"], after[f"{channel}_{name}"] = old[name], new[name]
    if changed:
        # One save of the page is one event; it is filed under the first template it changed, and its changes
        # name the channel of each field (sms_body, email_subject, email_body).
        audit_record(actor=actor, action="reminders.templates_changed", obj=changed[0],
                     summary="Usual reminder templates changed: "
                             + " and ".join(t.get_channel_display() for t in changed),
                     changes=field_changes(before, after))
    return changed


def usual_reminder_draft(appointment: Appointment, channel: str) -> Draft:
    recipient = _recipient(appointment, channel)
    template = usual_template(channel)
    # A fresh link per message (each a code of its own); none is made when the template has no {client_link}.
    link = (scheduling_services.client_link_mint(appointment)
            if usual.uses_field("client_link", template.subject, template.body) else "")
    values = usual.merge_values(appointment, Practice.load(), client_link=link)
    body = usual.tidy(usual.render(template.body, values))
    if channel == Channel.SMS:
        return Draft(channel, Kind.USUAL, recipient, "", body, segments.usual_sms_credits(body))
    return Draft(channel, Kind.USUAL, recipient, usual.render(template.subject, values), body, 0)


def usual_reminder_queue(*, actor: User | None, appointment: Appointment, channel: str,
                         again: bool = False, again_after: int | None = None) -> Message | None:
    """Queue the usual reminder; None when it was already sent for this appointment time (and not ``again``).

    The key holds the appointment's time: a moved appointment is reminded again, a repeat sweep is not.
    ``again_after`` (a message's pk) sends again once in answer to that message, however many ask at once.
    """
    key = f"usual:{channel}:{appointment.pk}:{appointment.starts_at.isoformat()}"
    if again_after is not None:
        key += f":again-after:{again_after}"
    elif again:
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
    # updated_at marks when this attempt started: a row SENDING for longer than STALE_SENDING was cut off.
    claimed = Message.objects.filter(pk=message_pk, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SENDING, updated_at=timezone.now())
    return Message.objects.select_related("appointment", "client").get(pk=message_pk) if claimed else None


def _status_callback_url() -> str | None:
    if not settings.PUBLIC_BASE_URL:
        return None
    return settings.PUBLIC_BASE_URL + reverse("twilio-status")


def message_send(*, message_pk: int) -> None:
    """Send one queued message, once. Raises TransientSendError when a retry should follow.

    Only errors a retry can heal are retried (connection, timeouts before sending, 4xx SMTP replies,
    Twilio's transient classes); a message that can never go (a header with CR/LF, an invalid address,
    a 5xx SMTP reply, a cancelled appointment) fails at once, refunded and listed for a person.
    """
    message = _claim(message_pk)
    if message is None:
        return  # sent, being sent, or gone: a duplicate delivery does nothing
    try:
        provider_id, provider_status = _deliver(message)
    except SmsError as exc:
        _send_failed(message, exc.message, permanent=exc.permanent, maybe_sent=exc.maybe_sent)
        return
    except (MeetingChanged, ApplicationError) as exc:
        _send_failed(message, getattr(exc, "message", str(exc)), permanent=True, maybe_sent=False)
        return
    except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
        # The mail server may have taken the message before the line went quiet: no blind resend.
        _send_failed(message, f"Email status unknown: {exc.__class__.__name__}", permanent=False, maybe_sent=True)
        return
    except smtplib.SMTPRecipientsRefused as exc:
        _send_failed(message, f"The mail server refused the address ({exc.__class__.__name__}).", permanent=True,
                     maybe_sent=False)
        return
    except smtplib.SMTPResponseException as exc:
        # 5xx is the server's final word (sender refused, authentication, message refused); 4xx may heal.
        _send_failed(message, f"The mail server answered {exc.smtp_code} ({exc.__class__.__name__}).",
                     permanent=exc.smtp_code >= 500, maybe_sent=False)
        return
    except (BadHeaderError, ValueError, TypeError, LookupError) as exc:
        # The email cannot be built (a header with CR/LF, an invalid address or encoding): no retry heals it.
        _send_failed(message, f"The email could not be built: {exc.__class__.__name__}. Check the address and "
                              "the reminder template.", permanent=True, maybe_sent=False)
        return
    except Exception as exc:  # noqa: BLE001 - connection refused, DNS: worth a retry
        _send_failed(message, f"Email could not be sent: {exc.__class__.__name__}", permanent=False,
                     maybe_sent=False)
        return
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.SENT, provider_id=provider_id, provider_status=provider_status, sent_at=timezone.now(),
        attempts=message.attempts + 1, error="", updated_at=timezone.now())
    audit_record(actor=None, action="message.sent", obj=message, summary=f"Sent to the provider ({provider_id})")


class MeetingChanged(Exception):
    """The Zoom meeting was re-created after this message was queued: its details no longer work."""


def _check_meeting_unchanged(message: Message) -> None:
    if message.kind != Kind.TELEHEALTH or message.appointment_id is None:
        return
    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=message.appointment_id)
    queued_for = message.key.split(":")[3]
    meeting = appointment.zoom_meeting
    if meeting is None or str(meeting.zoom_id) != queued_for or meeting.state != MeetingState.ACTIVE:
        raise MeetingChanged("The Zoom meeting changed after this message was queued, so it was not sent. "
                             "Send the new details from the appointment.")


def _deliver(message: Message) -> tuple[str, str]:
    _check_meeting_unchanged(message)
    # The client may have replied STOP after this was queued: it fails (refunded) instead of going out.
    _refuse_if_opted_out(message.channel, message.recipient)
    if message.channel == Channel.SMS:
        result = get_backend().send(to=message.recipient, body=message.body, status_callback=_status_callback_url())
        return result.provider_id, result.status
    email = EmailMultiAlternatives(subject=_one_line(message.subject), body=message.body, to=[message.recipient],
                                   from_email=_from_address(Practice.load()))
    if message.kind == Kind.USUAL:
        # urlize: a {client_link} is a link in the HTML part too (it escapes the rest).
        email.attach_alternative(linebreaks(urlize(message.body, autoescape=True)), "text/html")
    if message.kind == Kind.TELEHEALTH and message.appointment_id is not None:
        # The HTML part and the calendar invitation, from the same meeting the text was made from.
        appointment = Appointment.objects.select_related("zoom_meeting", "client", "practitioner").get(
            pk=message.appointment_id)
        details = _telehealth_details(appointment)
        email.attach_alternative(fixed.telehealth_email(details)[2], "text/html")
        email.attach("telehealth-appointment.ics", fixed.telehealth_ics(details), "text/calendar")
    email.send()
    return "", "sent"


def _from_address(practice: Practice) -> str:
    """The From header: the practice's name on one line (stored CR/LF never fails every email), and its
    address only when it is a plain address."""
    address = practice.email.strip()
    if not address or re.search(r"[\s\x00-\x1f\x7f]", address) or address.count("@") != 1:
        address = settings.DEFAULT_FROM_EMAIL
    return formataddr((_one_line(practice.name), address))


def _send_failed(message: Message, error: str, *, permanent: bool, maybe_sent: bool) -> None:
    attempts = message.attempts + 1
    if maybe_sent:
        # The provider may have it: a person decides, nothing is resent blindly (RELIABILITY.md 6).
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.UNKNOWN, error=error[:300],
                                                     attempts=attempts, updated_at=timezone.now())
        audit_record(actor=None, action="message.unknown", obj=message, summary=error)
        return
    if permanent or attempts >= MAX_ATTEMPTS:
        with transaction.atomic():
            Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, error=error[:300],
                                                         attempts=attempts, updated_at=timezone.now())
            _refund(message, error)
        audit_record(actor=None, action="message.failed", obj=message, summary=error)
        return
    # updated_at restarts the clock, so the recovery sweep leaves the retry to its backoff.
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.QUEUED, error=error[:300], attempts=attempts,
                                                 updated_at=timezone.now())
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
# One attempt takes at most about a minute (Twilio's 10 s and SMTP's 20 s timeouts per step), so a row still
# SENDING after this was cut off by a worker crash.
STALE_SENDING = timedelta(minutes=5)
CUT_OFF = "The send was cut off (the worker stopped): it may or may not have gone. Check with the client, then " \
          "mark it as sent, send it again, or mark it as not sent (refunds its credits)."


def messages_recover(*, now: datetime | None = None) -> int:
    """Beat: re-enqueue messages whose task never ran (broker down) and flag sends that never finished.

    A row left SENDING means a worker died mid-send: the provider may have it, so it becomes UNKNOWN for a
    person to act on (Needs attention), never resent blindly.
    """
    from reminders.tasks import message_send

    now = now or timezone.now()
    stuck = Message.objects.filter(status=MessageStatus.SENDING, updated_at__lt=now - STALE_SENDING)
    for message in stuck:
        if Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
                status=MessageStatus.UNKNOWN, error=CUT_OFF, updated_at=now):
            audit_record(actor=None, action="message.unknown", obj=message, summary="The send was cut off.")
    waiting = list(Message.objects.filter(status=MessageStatus.QUEUED, updated_at__lt=now - STALE_QUEUED)
                   .values_list("pk", flat=True)[:500])
    for pk in waiting:
        message_send.delay(pk)
    return len(waiting)


# Acting on failed and unknown messages (Needs attention) -----------------------------------------------------

def _message_for_action(message: Message, now: datetime) -> Message:
    """The message, locked, if a person may act on it: failed, unknown, or a send cut off (stale SENDING)."""
    # Only the message row is locked: a reply's appointment and client may be missing (an outer join, which
    # PostgreSQL can't lock).
    locked = (Message.objects.select_for_update(of=("self",)).select_related("appointment", "client")
              .get(pk=message.pk))
    if locked.resolution:
        who = f" by {locked.resolved_by.get_full_name() or locked.resolved_by.username}" if locked.resolved_by else ""
        raise ApplicationError(f"This message was already dealt with: {locked.get_resolution_display().lower()}"
                               f"{who}.", code="resolved")
    if locked.status == MessageStatus.SENDING:
        if locked.updated_at >= now - STALE_SENDING:
            raise ApplicationError("This message is being sent right now; wait a few minutes.", code="sending")
        # Cut off: the same as the recovery sweep would do, now.
        Message.objects.filter(pk=locked.pk).update(status=MessageStatus.UNKNOWN, error=CUT_OFF, updated_at=now)
        locked.status, locked.error = MessageStatus.UNKNOWN, CUT_OFF
    if locked.status not in (MessageStatus.FAILED, MessageStatus.UNKNOWN):
        raise ApplicationError(f"This message is {locked.get_status_display().lower()}; there is nothing to do.",
                               code="not_needed")
    return locked


def _resolve(message: Message, *, actor: User, resolution: str, now: datetime, **changes) -> None:
    Message.objects.filter(pk=message.pk).update(resolution=resolution, resolved_at=now, resolved_by=actor,
                                                 updated_at=now, **changes)


@transaction.atomic
def message_mark_sent(*, actor: User, message: Message) -> Message:
    """A person checked (with the client or the provider) that an unknown message arrived: it becomes SENT.

    Only for UNKNOWN (or a send cut off); the debit stays. Refused (ApplicationError) for a failed message
    (it was refunded: send it again instead) and for anything already dealt with. Audited
    ``message.marked_sent``; the message leaves ``messages_needing_attention()``.
    """
    now = timezone.now()
    locked = _message_for_action(message, now)
    if locked.status != MessageStatus.UNKNOWN:
        raise ApplicationError("This message failed, so it was not sent: send it again, or mark it as not sent.",
                               code="failed")
    _resolve(locked, actor=actor, resolution=Resolution.MARKED_SENT, now=now, status=MessageStatus.SENT)
    audit_record(actor=actor, action="message.marked_sent", obj=locked,
                 summary="Marked as sent after checking", changes={"was": locked.status})
    locked.refresh_from_db()
    return locked


@transaction.atomic
def message_mark_not_sent(*, actor: User, message: Message) -> Message:
    """A person settles a failed or unknown message as not sent: it becomes FAILED and its credits are refunded.

    For UNKNOWN (or a send cut off) and FAILED (already refunded: the refund is never made twice). Refused for
    anything sent, queued, or already dealt with. Audited ``message.marked_not_sent``; the message leaves
    ``messages_needing_attention()``. Nothing is sent: use ``message_send_again`` for that.
    """
    now = timezone.now()
    locked = _message_for_action(message, now)
    error = locked.error or "Marked as not sent."
    _resolve(locked, actor=actor, resolution=Resolution.MARKED_NOT_SENT, now=now, status=MessageStatus.FAILED,
             error=error[:300])
    refunded = locked.credits and not CreditEntry.objects.filter(message=locked,
                                                                 reason=CreditEntry.Reason.REFUND).exists()
    _refund(locked, f"Marked as not sent by {actor.get_full_name() or actor.username}")
    audit_record(actor=actor, action="message.marked_not_sent", obj=locked, summary="Marked as not sent",
                 changes={"was": locked.status, "refunded": locked.credits if refunded else 0})
    locked.refresh_from_db()
    return locked


@transaction.atomic
def message_send_again(*, actor: User, message: Message) -> Message:
    """Send a failed or unknown message again: a new message (new key, new debit), returned.

    Telehealth details carry the appointment's current meeting (R11); a usual reminder its current time and
    is refused once the appointment is cancelled or has started. Once per original message, however many people
    click at once (the key holds the original's pk); refused when someone already sent it again. The original is
    resolved "sent again" (``replaced_by`` the new one). Credits are checked as for any send. Audited
    ``message.sent_again`` (and ``message.queued`` for the new one).
    """
    now = timezone.now()
    locked = _message_for_action(message, now)
    new: Message | None
    # A reply: the same words to the same number, whatever became of the appointment.
    if locked.kind == Kind.REPLY or locked.appointment_id is None:
        try:
            new = _queue(actor=actor, appointment=locked.appointment, client=locked.client,
                         draft=Draft(locked.channel, Kind.REPLY, locked.recipient, "", locked.body, locked.credits),
                         key=f"reply-again:{locked.pk}")
        except IntegrityError:
            raise ApplicationError("Someone already sent this reply again.", code="already_sent") from None
        return _sent_again(locked, actor=actor, now=now, new=new)
    appointment = Appointment.objects.select_related("client", "practitioner", "location", "zoom_meeting").get(
        pk=locked.appointment_id)
    if locked.kind == Kind.TELEHEALTH:
        latest = telehealth_last_sent(appointment, locked.channel)
        if latest is not None and latest.pk != locked.pk:
            raise _already_sent(latest)
        new = telehealth_details_send(actor=actor, appointment=appointment, channel=locked.channel,
                                      again_after=latest.pk if latest else None)
    else:
        if appointment.status != Status.BOOKED:
            raise ApplicationError("This appointment is no longer booked, so no reminder is sent.", code="cancelled")
        if appointment.starts_at <= now:
            raise ApplicationError("This appointment has already started.", code="too_late")
        new = usual_reminder_queue(actor=actor, appointment=appointment, channel=locked.channel,
                                   again_after=locked.pk)
        if new is None:
            raise ApplicationError("Someone already sent this reminder again.", code="already_sent")
    return _sent_again(locked, actor=actor, now=now, new=new)


def _sent_again(locked: Message, *, actor: User, now: datetime, new: Message) -> Message:
    # _queue resolved the original as "sent again" (it may have been a send cut off, now UNKNOWN).
    _resolve(locked, actor=actor, resolution=Resolution.SENT_AGAIN, now=now, replaced_by=new)
    audit_record(actor=actor, action="message.sent_again", obj=locked, summary=f"Sent again as message #{new.pk}",
                 changes={"was": locked.status, "new_message": new.pk})
    return new


# The Scheduler ----------------------------------------------------------------------------------------------

# A reminder pulled back before quiet hours is due this long before they begin, so that at least two sweeps
# (every 5 minutes) see it while sending is still allowed.
QUIET_MARGIN = timedelta(minutes=15)
State = ScheduledReminder.State
Reason = ScheduledReminder.Reason


def _in_quiet_hours(moment: datetime, config: ReminderSettings, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone).time()
    start, end = config.quiet_start, config.quiet_end
    return (start <= local or local < end) if start > end else (start <= local < end)


def _quiet_period(moment: datetime, config: ReminderSettings, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The quiet period that contains ``moment`` (which must be in quiet hours): when it began and when it ends."""
    local = moment.astimezone(zone)
    began = datetime.combine(local.date(), config.quiet_start, tzinfo=zone)
    if began > local:
        began -= timedelta(days=1)
    ends = datetime.combine(began.date(), config.quiet_end, tzinfo=zone)
    if ends <= began:
        ends += timedelta(days=1)
    return began.astimezone(ZoneInfo("UTC")), ends.astimezone(ZoneInfo("UTC"))


def reminder_due_at(appointment: Appointment, config: ReminderSettings, zone: ZoneInfo, *,
                    now: datetime | None = None) -> datetime | None:
    """When the Scheduler sends the usual reminder: the lead time before the start (or now, if that has passed),
    out of quiet hours, and always before the start. None when no such time is left ("too late").

    A due time in quiet hours moves to their end when that is still (QUIET_MARGIN) before the appointment;
    otherwise back to just before they begin (the evening before), or now if they begin sooner. It is never
    moved past the start: a reminder pushed after its appointment was silently never sent.
    """
    now = now or timezone.now()
    starts = appointment.starts_at
    due = max(starts - timedelta(hours=config.lead_hours), now)
    if due >= starts:
        return None
    if not _in_quiet_hours(due, config, zone):
        return due
    began, ends = _quiet_period(due, config, zone)
    if ends + QUIET_MARGIN <= starts:
        return ends
    if began - QUIET_MARGIN >= now:
        return began - QUIET_MARGIN
    if now < began:
        return now  # quiet hours begin within the margin: send at once
    return None


def _too_late_note(config: ReminderSettings) -> str:
    return (f"Too late: quiet hours ({config.quiet_start:%H:%M}–{config.quiet_end:%H:%M}) left no time to send it "
            "before the appointment. Send it now, or dismiss it.")


def _row_values(channel: str, due: datetime | None, config: ReminderSettings, *, wants: bool) -> dict:
    """A channel's row for the appointment's current time: armed, or why it will not be sent."""
    if due is not None:
        return {"state": State.ARMED, "due_at": due, "reason": "", "note": ""}
    if wants:
        return {"state": State.NOT_SENT, "due_at": timezone.now(), "reason": Reason.TOO_LATE,
                "note": _too_late_note(config)}
    # Too late for a channel the client does not want is no one's concern.
    return {"state": State.SKIPPED, "due_at": timezone.now(), "reason": "",
            "note": f"The client does not want reminders by {Channel(channel).label}."}


def _arm_row(appointment: Appointment, channel: str, due: datetime | None, config: ReminderSettings, *,
             wants: bool) -> None:
    """Create or re-arm the row for the appointment's current time (a retired one: reinstated or moved back)."""
    values = _row_values(channel, due, config, wants=wants)
    reminder, created = ScheduledReminder.objects.get_or_create(
        appointment=appointment, channel=channel, for_starts_at=appointment.starts_at, defaults=values)
    # Re-armed: a retired row (reinstated, or moved back to this time), or one too late before that now has time.
    if not created and (reminder.state == State.RETIRED or (
            reminder.state == State.NOT_SENT and reminder.reason == Reason.TOO_LATE and due is not None)):
        ScheduledReminder.objects.filter(pk=reminder.pk).update(**values, resolved_at=None, resolved_by=None,
                                                                updated_at=timezone.now())


def reminders_arm(appointment: Appointment, *, new: bool = False) -> None:
    """Keep the appointment's scheduled reminders in step with it (called whenever it is saved).

    A ``new`` appointment has no rows yet: nothing to retire, and its rows are inserted at once (a booking's
    reminders were a third of its queries)."""
    if not new:
        current = ScheduledReminder.objects.filter(appointment=appointment, state__in=[State.ARMED, State.HELD])
        if appointment.status != Status.BOOKED:
            current.update(state=State.RETIRED, note="The appointment is no longer booked.")
            return
        current.exclude(for_starts_at=appointment.starts_at).update(
            state=State.RETIRED, note="The appointment moved to another time.")
    if appointment.status != Status.BOOKED or appointment.starts_at <= timezone.now():
        return
    config = ReminderSettings.load()
    due = reminder_due_at(appointment, config, Practice.load().zone)
    client = appointment.client
    wanted = {channel: client.sms_reminders if channel == Channel.SMS else client.email_reminders
              for channel in Channel.values}
    if new:
        ScheduledReminder.objects.bulk_create(
            ScheduledReminder(appointment=appointment, channel=channel, for_starts_at=appointment.starts_at,
                              **_row_values(channel, due, config, wants=wants))
            for channel, wants in wanted.items())
        return
    for channel, wants in wanted.items():
        _arm_row(appointment, channel, due, config, wants=wants)


def reminders_rearm_all() -> None:
    """The lead time or quiet hours changed: every armed future reminder gets its new due time."""
    config, zone = ReminderSettings.load(), Practice.load().zone
    armed = ScheduledReminder.objects.filter(state=State.ARMED).select_related("appointment")
    for reminder in armed:
        due = reminder_due_at(reminder.appointment, config, zone)
        if due is None:
            ScheduledReminder.objects.filter(pk=reminder.pk).update(
                state=State.NOT_SENT, reason=Reason.TOO_LATE, note=_too_late_note(config), updated_at=timezone.now())
        elif due != reminder.due_at:
            ScheduledReminder.objects.filter(pk=reminder.pk).update(due_at=due)


def reminders_rearm_opted_in(number: str) -> int:
    """The mobile replied START: its SMS reminders skipped while it was opted out are armed again, for the
    appointments still booked at that time and ahead, due when ``reminder_due_at`` says (now, or once quiet hours
    end). One that is too late by now stays skipped, with its reason. Returns how many were armed again."""
    now = timezone.now()
    config, zone = ReminderSettings.load(), Practice.load().zone
    skipped = (ScheduledReminder.objects
               .filter(channel=Channel.SMS, state=State.SKIPPED, reason=Reason.OPTED_OUT,
                       appointment__status=Status.BOOKED, appointment__starts_at__gt=now,
                       appointment__starts_at=F("for_starts_at"), appointment__client__mobile=number)
               .select_related("appointment"))
    armed = 0
    for reminder in skipped:
        due = reminder_due_at(reminder.appointment, config, zone, now=now)
        if due is None:
            continue
        armed += ScheduledReminder.objects.filter(pk=reminder.pk, state=State.SKIPPED).update(
            state=State.ARMED, due_at=due, reason="", note="Scheduled again: the client replied START.",
            updated_at=now)
    return armed


def _arm_missing(now: datetime, config: ReminderSettings) -> None:
    """A safety net for appointments saved without their reminders (bulk loads, data fixes)."""
    unarmed = (Appointment.objects.filter(status=Status.BOOKED, starts_at__gt=now,
                                          starts_at__lte=now + timedelta(hours=config.lead_hours + 13))
               .exclude(scheduled_reminders__isnull=False))
    for appointment in unarmed:
        reminders_arm(appointment)


def _expire(now: datetime, config: ReminderSettings, zone: ZoneInfo) -> None:
    """Due reminders that can no longer go before their appointment become "not sent: too late", visibly.

    In quiet hours, those whose appointment starts before the quiet hours end; otherwise those whose
    appointment has started (a sweep that did not run, a reminder waiting for credits too long).
    """
    limit = _quiet_period(now, config, zone)[1] if _in_quiet_hours(now, config, zone) else now
    late = ScheduledReminder.objects.filter(state__in=[State.ARMED, State.HELD], due_at__lte=now,
                                            for_starts_at__lte=limit)
    late.update(state=State.NOT_SENT, reason=Reason.TOO_LATE, note=_too_late_note(config) if limit != now else
                "Too late: the appointment started before the reminder could be sent.", updated_at=now)


def scheduler_sweep(*, now: datetime | None = None) -> int:
    """Beat, every few minutes: send the armed usual reminders that are due, exactly once per appointment time.

    Never telehealth details (R13). The schedule is the ScheduledReminder table: cancelled appointments have
    retired rows, a moved one a new row for its new time, a reinstated one its row armed again. Reminders
    held for lack of credits are tried again while their appointment is ahead, once there are credits.
    Every outcome is a visible state with a reason: sent, not wanted, waiting for credits, not sent (no
    mobile or email, too late).
    """
    now = now or timezone.now()
    config = ReminderSettings.load()
    if not config.scheduler_enabled:
        return 0
    zone = Practice.load().zone
    _expire(now, config, zone)
    if _in_quiet_hours(now, config, zone):
        return 0
    _arm_missing(now, config)
    states = [State.ARMED, State.HELD] if credits_balance() > 0 else [State.ARMED]
    due = (ScheduledReminder.objects.filter(state__in=states, due_at__lte=now)
           .select_related("appointment__client", "appointment__practitioner", "appointment__location"))
    queued = 0
    for reminder in due:
        queued += _send_scheduled(reminder, now)
    return queued


def _send_scheduled(reminder: ScheduledReminder, now: datetime) -> bool:
    appointment = reminder.appointment
    client = appointment.client
    wants = client.sms_reminders if reminder.channel == Channel.SMS else client.email_reminders
    outcome, reason, note, message = State.NOT_SENT, "", "", None
    if appointment.status != Status.BOOKED or appointment.starts_at != reminder.for_starts_at:
        outcome, note = State.RETIRED, "The appointment changed."
    elif appointment.starts_at <= now:
        reason, note = Reason.TOO_LATE, "Too late: the appointment started before the reminder could be sent."
    elif not wants:
        outcome, note = State.SKIPPED, f"The client does not want reminders by {reminder.get_channel_display()}."
    else:
        try:
            message = usual_reminder_queue(actor=None, appointment=appointment, channel=reminder.channel)
            outcome = State.SENT
            note = "" if message else "Already sent for this appointment time."
        except ApplicationError as exc:
            note = exc.message
            if exc.code == "no_credits":
                outcome, reason = State.HELD, Reason.NO_CREDITS
                note = f"{exc.message} It is sent automatically once credits are added."
            elif exc.code == "opted_out":  # the client's choice, like "not wanted": shown, not listed for action
                outcome, reason = State.SKIPPED, Reason.OPTED_OUT
            else:
                reason = Reason.NO_CONTACT if exc.code == "no_contact" else Reason.ERROR
            logger.warning("Reminder for appointment %s by %s not sent: %s", appointment.pk, reminder.channel,
                           exc.code)
    if outcome == reminder.state == State.HELD:
        return False  # still too few credits: the row keeps its "since" for Needs attention
    ScheduledReminder.objects.filter(pk=reminder.pk, state=reminder.state).update(
        state=outcome, reason=reason, note=note[:300], message=message, updated_at=now)
    return message is not None


# Acting on Scheduler reminders not sent (Needs attention) ------------------------------------------------------

def _reminder_for_action(reminder: ScheduledReminder) -> ScheduledReminder:
    locked = ScheduledReminder.objects.select_for_update().select_related(
        "appointment__client", "appointment__practitioner", "appointment__location").get(pk=reminder.pk)
    if locked.resolved_at is not None:
        raise ApplicationError("This reminder was already dealt with.", code="resolved")
    return locked


@transaction.atomic
def scheduled_reminder_send_now(*, actor: User, reminder: ScheduledReminder) -> Message:
    """A person sends a Scheduler reminder that was not sent (or not yet due) now, quiet hours or not.

    For rows scheduled, waiting for credits or not sent, while their appointment is booked at that time and
    still ahead, and the client wants reminders by that channel; otherwise ApplicationError says why. The send
    itself may be refused like any send (no credits, no mobile or email). Returns the message (the one already
    sent for this appointment time, if any). The row becomes SENT and leaves
    ``scheduled_reminders_needing_attention()``. Audited ``reminder.sent_now``.
    """
    now = timezone.now()
    locked = _reminder_for_action(reminder)
    appointment = locked.appointment
    if locked.state == State.SENT:
        raise ApplicationError("This reminder was already sent.", code="already_sent")
    if (locked.state == State.RETIRED or appointment.status != Status.BOOKED
            or appointment.starts_at != locked.for_starts_at):
        raise ApplicationError("The appointment was cancelled or moved since; this reminder no longer applies.",
                               code="changed")
    if appointment.starts_at <= now:
        raise ApplicationError("The appointment has already started.", code="too_late")
    client = appointment.client
    if not (client.sms_reminders if locked.channel == Channel.SMS else client.email_reminders):
        raise ApplicationError(f"{client} does not want reminders by {locked.get_channel_display()}.",
                               code="not_wanted")
    message = usual_reminder_queue(actor=actor, appointment=appointment, channel=locked.channel)
    note = f"Sent by {actor.get_full_name() or actor.username}."
    if message is None:
        key = f"usual:{locked.channel}:{appointment.pk}:{appointment.starts_at.isoformat()}"
        message = Message.objects.get(key=key)
        note = "Already sent for this appointment time."
    ScheduledReminder.objects.filter(pk=locked.pk).update(state=State.SENT, reason="", note=note, message=message,
                                                          resolved_at=now, resolved_by=actor, updated_at=now)
    audit_record(actor=actor, action="reminder.sent_now", obj=locked, summary=note,
                 changes={"was": locked.state, "reason": locked.reason, "message": message.pk})
    return message


@transaction.atomic
def scheduled_reminder_dismiss(*, actor: User, reminder: ScheduledReminder) -> ScheduledReminder:
    """A person dismisses a Scheduler reminder that was not sent: it leaves Needs attention and is not sent.

    For rows waiting for credits (they stop waiting: "not sent, no credits") or not sent; the state and reason
    stay on the appointment for the record. Refused for rows scheduled, sent, not wanted or retired, and for
    rows already dealt with. Audited ``reminder.dismissed``.
    """
    now = timezone.now()
    locked = _reminder_for_action(reminder)
    if locked.state not in (State.HELD, State.NOT_SENT):
        raise ApplicationError(f"This reminder is {locked.get_state_display().lower()}; there is nothing to dismiss.",
                               code="not_needed")
    changes: dict = {"resolved_at": now, "resolved_by": actor, "updated_at": now}
    if locked.state == State.HELD:
        changes.update(state=State.NOT_SENT, reason=Reason.NO_CREDITS)
    ScheduledReminder.objects.filter(pk=locked.pk).update(**changes)
    audit_record(actor=actor, action="reminder.dismissed", obj=locked, summary="Dismissed: not sent",
                 changes={"was": locked.state, "reason": locked.reason})
    locked.refresh_from_db()
    return locked
