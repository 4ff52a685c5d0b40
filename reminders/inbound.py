"""Two-way SMS (issue 11): what clients send back, received by Twilio's inbound webhook, and the Inbox.

A reply lands where a person would look for it: "Y" confirms the appointment the last SMS was about, "N" asks to
cancel it (Needs attention: staff decide), STOP and START follow Twilio's opt-out words (no SMS goes to an
opted-out number: ``services._queue`` refuses it), and anything else goes to the Inbox. Replies cost nothing;
answering one from the Inbox is an SMS like any other, 1 credit per segment.

Bodies and numbers are client data: stored and shown in the app, never logged or put in the audit trail.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from practice.audit import audit_record
from practice.errors import ApplicationError
from practice.models import Client, Practice
from practice.phones import DEFAULT_REGION
from reminders import selectors, services
from reminders.models import (
    TEMPLATE_MAX,
    Channel,
    InboundMessage,
    InboundOutcome,
    Message,
    MessageStatus,
    SmsOptOut,
)
from scheduling.models import Appointment, ConfirmedVia, Status

logger = logging.getLogger(__name__)

CONFIRM_WORDS = frozenset({"Y", "YES", "C"})
CANCEL_WORDS = frozenset({"N", "NO"})
# Twilio's standard opt-out and opt-in keywords: Twilio itself blocks an opted-out number, so the app follows it.
# "YES" is also one of Twilio's opt-in words: from an opted-out number it opts back in (and confirms).
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
TWILIO_OPT_IN_WORDS = OPT_IN_WORDS | {"YES"}

REPLY_MAX = TEMPLATE_MAX["sms"]


def keyword(body: str) -> str:
    """The reply as one word for matching: case, spaces and punctuation ignored ("y.", " Yes! " -> "Y", "YES")."""
    return "".join(char for char in unicodedata.normalize("NFKC", body).upper()
                   if unicodedata.category(char)[0] in "LN")


def normalise_number(value: str) -> str:
    """Twilio's From in E.164 (as clients' mobiles are stored); left as it is when it does not parse."""
    value = value.strip()
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return value[:32]
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class Sender:
    client: Client | None
    appointment: Appointment | None
    note: str = ""


def match_sender(number: str) -> Sender:
    """Who sent it and what about: the client and appointment of the last SMS we sent to this number.

    Several clients may share a mobile (a parent's): the last SMS says which of them the reply answers. Without
    one, a number that belongs to exactly one client matches that client (with no appointment); a number shared
    by several matches none of them, and the note names how many.
    """
    last = (Message.objects.filter(channel=Channel.SMS, recipient=number, appointment__isnull=False)
            .exclude(status=MessageStatus.FAILED).select_related("client", "appointment")
            .order_by("-created_at", "-pk").first())
    if last is not None:
        return Sender(last.client, last.appointment)
    clients = list(Client.objects.filter(mobile=number)[:2])
    if len(clients) == 1:
        return Sender(clients[0], None, "No SMS about an appointment was sent to this number.")
    if clients:
        return Sender(None, None, f"{Client.objects.filter(mobile=number).count()} clients share this mobile and "
                                  "no SMS about an appointment was sent to it.")
    return Sender(None, None, "No client has this mobile.")


def _when(appointment: Appointment) -> str:
    # The webhook has no signed-in user, so the practice's zone is not active: named here.
    local = appointment.starts_at.astimezone(Practice.load().zone)
    return f"{local:%a} {local.day} {local:%b} {local:%H:%M} with {appointment.practitioner}"


def _opt_out(number: str, client: Client | None, *, now) -> str:
    opt_out, _ = SmsOptOut.objects.select_for_update().get_or_create(number=number)
    if opt_out.opted_out_at is None:
        opt_out.opted_out_at = now
    opt_out.client = client or opt_out.client
    opt_out.save()
    audit_record(actor=None, actor_label="client (SMS)", action="sms.opted_out", obj=opt_out,
                 summary="Opted out of SMS (replied STOP)", changes={"client": client.pk if client else None})
    return "No SMS goes to this mobile until the client replies START."


def _opt_in(number: str, client: Client | None, *, now) -> str:
    opt_out = SmsOptOut.objects.select_for_update().filter(number=number).first()
    if opt_out is None or opt_out.opted_out_at is None:
        return "This mobile was not opted out."
    opt_out.opted_out_at, opt_out.opted_in_at = None, now
    opt_out.client = client or opt_out.client
    opt_out.save()
    rearmed = services.reminders_rearm_opted_in(number)
    audit_record(actor=None, actor_label="client (SMS)", action="sms.opted_in", obj=opt_out,
                 summary="Opted back in to SMS (replied START)",
                 changes={"client": client.pk if client else None, "reminders_scheduled_again": rearmed})
    if rearmed == 1:
        return "SMS may go to this mobile again; the reminder skipped while it was opted out is scheduled again."
    if rearmed:
        return (f"SMS may go to this mobile again; {rearmed} reminders skipped while it was opted out are scheduled "
                "again.")
    return "SMS may go to this mobile again."


def _confirm(appointment: Appointment | None) -> tuple[str, str]:
    if appointment is None:
        return InboundOutcome.INBOX, "A “yes”, but no SMS about an appointment was sent to this number."
    try:
        from scheduling.services import appointment_confirm

        with transaction.atomic():
            appointment_confirm(appointment=appointment, via=ConfirmedVia.CLIENT_SMS)
    except ApplicationError as exc:
        return InboundOutcome.INBOX, f"A “yes” for {_when(appointment)}, not confirmed: {exc.message}"
    return InboundOutcome.CONFIRMED, f"Confirmed {_when(appointment)}."


def _cancel_request(appointment: Appointment | None) -> tuple[str, str]:
    if appointment is None:
        return InboundOutcome.INBOX, "A “no”, but no SMS about an appointment was sent to this number."
    if appointment.status != Status.BOOKED or appointment.ends_at <= timezone.now():
        state = "cancelled" if appointment.is_cancelled else "no longer ahead"
        return InboundOutcome.INBOX, f"A “no” for {_when(appointment)}, which is {state}."
    return InboundOutcome.CANCEL_REQUEST, f"Asks to cancel {_when(appointment)}: in Needs attention."


def inbound_sms_receive(*, provider_id: str, from_number: str, to_number: str = "", body: str = "",
                        ) -> InboundMessage:
    """Store an inbound SMS once per Twilio MessageSid and act on it; a retried webhook changes nothing twice.

    No credits are spent: replies cost nothing. The app's answer to Twilio is empty (no auto-reply).
    """
    # PostgreSQL refuses NUL in text: dropped, so a stray one can't fail the webhook (and Twilio retry it forever).
    provider_id, from_number, to_number, body = (value.replace("\x00", "") for value in
                                                 (provider_id, from_number, to_number, body))
    if not provider_id:
        raise ApplicationError("The request has no MessageSid.", code="invalid")
    existing = InboundMessage.objects.filter(provider_id=provider_id).first()
    if existing is not None:
        return existing
    number = normalise_number(from_number)
    try:
        with transaction.atomic():
            inbound = _receive(provider_id, number, normalise_number(to_number) if to_number else "", body)
    except IntegrityError:  # the same SMS delivered twice at once: the other request stored and acted on it
        return InboundMessage.objects.get(provider_id=provider_id)
    logger.info("Inbound SMS %s: %s", inbound.pk, inbound.outcome)
    return inbound


def _receive(provider_id: str, number: str, to_number: str, body: str) -> InboundMessage:
    now = timezone.now()
    # Stored first: a second delivery of the same SID fails here, before anything is acted on twice.
    inbound = InboundMessage.objects.create(provider_id=provider_id[:64], from_number=number, to_number=to_number,
                                            body=body, outcome=InboundOutcome.INBOX)
    sender = match_sender(number)
    word = keyword(body)
    opted_out = selectors.sms_opt_out(number) is not None
    handled = True
    outcome: str
    if word in OPT_OUT_WORDS:
        outcome, note = InboundOutcome.OPTED_OUT, _opt_out(number, sender.client, now=now)
    elif word in OPT_IN_WORDS or (word in TWILIO_OPT_IN_WORDS and opted_out):
        note = _opt_in(number, sender.client, now=now)
        outcome = InboundOutcome.OPTED_IN
        if word in CONFIRM_WORDS:
            confirmed, confirm_note = _confirm(sender.appointment)
            note = f"{note} {confirm_note}"
            outcome = InboundOutcome.CONFIRMED if confirmed == InboundOutcome.CONFIRMED else outcome
    elif word in CONFIRM_WORDS:
        outcome, note = _confirm(sender.appointment)
    elif word in CANCEL_WORDS:
        outcome, note = _cancel_request(sender.appointment)
        handled = False
    else:
        outcome, note = InboundOutcome.INBOX, ""
    if outcome == InboundOutcome.INBOX:
        handled = False
        note = " ".join(part for part in (note, sender.note) if part)
    InboundMessage.objects.filter(pk=inbound.pk).update(
        client=sender.client, appointment=sender.appointment, outcome=outcome, note=note[:300],
        handled_at=now if handled else None)
    inbound.refresh_from_db()
    audit_record(actor=None, actor_label="client (SMS)", action="sms.received", obj=inbound,
                 summary=f"SMS received: {inbound.get_outcome_display().lower()}",
                 changes={"client": sender.client.pk if sender.client else None,
                          "appointment": sender.appointment.pk if sender.appointment else None, "outcome": outcome})
    return inbound


# The Inbox and cancellation requests ------------------------------------------------------------------------

@transaction.atomic
def inbound_mark_handled(*, actor: User, inbound: InboundMessage, note: str = "Marked handled") -> InboundMessage:
    """A person dealt with an Inbox message or kept the appointment a client asked to cancel."""
    locked = InboundMessage.objects.select_for_update().get(pk=inbound.pk)
    if locked.handled_at is not None:
        who = f" by {locked.handled_by.get_full_name() or locked.handled_by.username}" if locked.handled_by else ""
        raise ApplicationError(f"This message was already dealt with{who}.", code="handled")
    locked.handled_at, locked.handled_by, locked.handled_note = timezone.now(), actor, note[:200]
    locked.save(update_fields=["handled_at", "handled_by", "handled_note"])
    audit_record(actor=actor, action="sms.handled", obj=locked, summary=note)
    return locked


def inbound_reply(*, actor: User, inbound: InboundMessage, body: str, request_key: str) -> Message:
    """Answer an inbound SMS from the Inbox: an SMS to the number it came from, 1 credit per segment.

    Through the same send path as every SMS (credits, opt-out, the send task); ``request_key`` (one per form
    shown) makes a double click send once. The inbound message is then handled.
    """
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise ApplicationError("Write a reply first.", code="empty")
    if len(body) > REPLY_MAX:
        raise ApplicationError(f"Keep the reply to {REPLY_MAX} characters (it has {len(body)}).", code="too_long")
    if any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in body):
        raise ApplicationError("Remove the control characters from the reply.", code="control_characters")
    if not re.fullmatch(r"[0-9a-f]{8,32}", request_key or ""):
        raise ApplicationError("The form is out of date; reload the page and write the reply again.", code="stale")
    with transaction.atomic():
        try:
            message = services.reply_queue(actor=actor, recipient=inbound.from_number, body=body,
                                           key=f"reply:{inbound.pk}:{request_key}", appointment=inbound.appointment,
                                           client=inbound.client)
        except IntegrityError:
            raise ApplicationError("This reply was already sent.", code="already_sent") from None
        if InboundMessage.objects.filter(pk=inbound.pk, handled_at__isnull=True).update(
                handled_at=timezone.now(), handled_by=actor, handled_note="Replied"):
            audit_record(actor=actor, action="sms.handled", obj=inbound, summary=f"Replied (message #{message.pk})")
    return message
