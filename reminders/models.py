import unicodedata
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from practice.models import Client
from reminders import usual
from scheduling.models import Appointment


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


class Kind(models.TextChoices):
    TELEHEALTH = "telehealth", "Telehealth details"
    USUAL = "usual", "Usual reminder"
    REPLY = "reply", "Reply"  # a person's answer to an inbound SMS, from the Inbox


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown"  # the provider may or may not have it: never resent blindly


class Resolution(models.TextChoices):
    """What a person decided about a failed or unknown message (it then leaves Needs attention)."""

    MARKED_SENT = "marked_sent", "Marked as sent"
    MARKED_NOT_SENT = "marked_not_sent", "Marked as not sent"
    SENT_AGAIN = "sent_again", "Sent again"


# Bounds that keep every computed due time inside datetime's range (2147483647 hours overflowed) and the
# values meaningful: a reminder more than two weeks ahead is forgotten before the appointment.
LEAD_HOURS_MAX = 336
LOW_BALANCE_MAX = 100_000
PURCHASE_MAX = 100_000  # credits in one purchase; more is a typing slip, not an order


def validate_single_line(value: str) -> None:
    """An email header (the subject) must be one line: CR/LF there fails every email (BadHeaderError)."""
    if "\r" in value or "\n" in value:
        raise ValidationError("Write the subject on one line (no line breaks).", code="multiline")


def validate_no_control_characters(value: str) -> None:
    """Text sent to clients or kept in the ledger: line breaks and tabs are text, NUL and the like are not
    (PostgreSQL refuses NUL in text, and SMS providers other control characters)."""
    if any(unicodedata.category(char) == "Cc" and char not in "\n\r\t" for char in value):
        raise ValidationError("Remove the control characters (such as NUL) from this text.", code="control_characters")


def validate_note(value: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError("Write the note on one line, without control characters.", code="control_characters")


# The longest usual templates: an SMS of 800 characters is already six segments (credits) per client.
TEMPLATE_MAX = {"sms": 800, "email": 5_000}


class ReminderSettings(models.Model):
    """The practice's reminder and SMS credit settings; one row (pk=1)."""

    lead_hours = models.PositiveIntegerField(
        "lead time (hours)", default=24, validators=[MinValueValidator(1), MaxValueValidator(LEAD_HOURS_MAX)],
        help_text=f"The Scheduler sends usual reminders this long before (1 to {LEAD_HOURS_MAX} hours).")
    quiet_start = models.TimeField(default=time(20, 0), help_text="No automatic sends from this time…")
    quiet_end = models.TimeField(default=time(8, 0), help_text="…until this time (they wait until then).")
    scheduler_enabled = models.BooleanField("Scheduler on", default=True)
    low_balance_warning = models.PositiveIntegerField(
        default=50, validators=[MaxValueValidator(LOW_BALANCE_MAX)], help_text="Warn when fewer SMS credits remain.")

    class Meta:
        verbose_name = verbose_name_plural = "reminder settings"

    def __str__(self) -> str:
        return "Reminder settings"

    @classmethod
    def load(cls) -> "ReminderSettings":
        return cls.objects.get_or_create(pk=1)[0]


class UsualTemplate(models.Model):
    """The usual reminder, editable by practice admins (R14). Telehealth templates are fixed in code (R13)."""

    channel = models.CharField(max_length=5, choices=Channel.choices, unique=True)
    subject = models.CharField(max_length=200, blank=True, help_text="Email only.",
                               validators=[validate_single_line, validate_no_control_characters,
                                           usual.validate_template])
    body = models.TextField(validators=[validate_no_control_characters, usual.validate_template])
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    def __str__(self) -> str:
        return f"Usual {self.get_channel_display()} reminder"

    def clean(self) -> None:
        limit = TEMPLATE_MAX.get(self.channel)
        if limit is not None and len(self.body) > limit:
            raise ValidationError({"body": f"Keep the {self.get_channel_display()} template to {limit:,} characters "
                                           f"(it has {len(self.body):,})."})


class Message(models.Model):
    """One SMS or email to a client, from queueing to the provider's last word.

    Reminders and telehealth details always have an appointment and a client; a reply from the Inbox has what the
    inbound SMS was matched to, which may be nothing (a number no client has).
    """

    appointment = models.ForeignKey(Appointment, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="messages")
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # At most one message per key: (kind, channel, appointment, and the appointment's time or the send request).
    key = models.CharField(max_length=200, unique=True)
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    credits = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED,
                              db_index=True)
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    provider_status = models.CharField(max_length=20, blank=True)
    error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")  # empty: the Scheduler
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A failed or unknown message stays in Needs attention until a person acts on it (or a newer send replaces it).
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.get_channel_display()} #{self.pk}"


class CreditEntry(models.Model):
    """The SMS credits ledger: purchases (+), one debit per SMS (−), refunds (+) for permanent rejections."""

    class Reason(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        DEBIT = "debit", "SMS sent"
        REFUND = "refund", "Refund"

    amount = models.IntegerField()
    reason = models.CharField(max_length=10, choices=Reason.choices)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_entries")
    note = models.CharField(max_length=200, blank=True, validators=[validate_note])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "credit entries"
        constraints = [
            # One debit and at most one refund per message.
            models.UniqueConstraint(fields=["message", "reason"], condition=models.Q(message__isnull=False),
                                    name="one_credit_entry_per_message_and_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.amount:+d}"


class ScheduledReminder(models.Model):
    """The Scheduler's schedule: one usual reminder per appointment, channel and appointment time, with its due time.

    Armed when an appointment is booked, moved or reinstated; a move arms a new row for the new time and
    retires the old one; a cancellation retires it. The beat sweep sends the armed rows that are due.
    """

    class State(models.TextChoices):
        ARMED = "armed", "Scheduled"
        SENT = "sent", "Sent"
        HELD = "held", "Waiting for credits"  # sent by the sweep once credits are bought, while still ahead
        NOT_SENT = "not_sent", "Not sent"  # see ``reason`` and ``note``; listed in Needs attention
        SKIPPED = "skipped", "Not wanted"  # the client does not want reminders by this channel
        RETIRED = "retired", "Retired"  # cancelled, or the appointment moved to another time

    class Reason(models.TextChoices):
        NO_CREDITS = "no_credits", "No SMS credits"
        NO_CONTACT = "no_contact", "No mobile or email"
        TOO_LATE = "too_late", "Too late"
        ERROR = "error", "Refused"
        OPTED_OUT = "opted_out", "Opted out of SMS"  # the client replied STOP: skipped, their choice

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="scheduled_reminders")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    for_starts_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.ARMED, db_index=True)
    reason = models.CharField(max_length=10, choices=Reason.choices, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Dismissed from Needs attention by a person (the state and reason stay, for the record).
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "channel", "for_starts_at"],
                                    name="one_scheduled_reminder_per_appointment_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} reminder for appointment #{self.appointment_id} due {self.due_at}"


class InboundOutcome(models.TextChoices):
    """What the app did with an inbound SMS."""

    CONFIRMED = "confirmed", "Confirmed the appointment"
    CANCEL_REQUEST = "cancel_request", "Asked to cancel"  # listed in Needs attention until staff decide
    OPTED_OUT = "opted_out", "Opted out of SMS"
    OPTED_IN = "opted_in", "Opted back in to SMS"
    INBOX = "inbox", "For a person to read"  # free text, or a Y/N the app could not act on


class InboundMessage(models.Model):
    """One SMS a client (or anyone) sent to the practice's number, received by Twilio's inbound webhook.

    Stored once per Twilio MessageSid, so a webhook Twilio retries changes nothing twice. The body is client data:
    it is shown in the app only, never logged or put in the audit trail.
    """

    provider_id = models.CharField(max_length=64, unique=True)  # Twilio's MessageSid
    from_number = models.CharField(max_length=32, db_index=True)  # E.164 when it parses
    to_number = models.CharField(max_length=32, blank=True)
    body = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The appointment the last outbound SMS to this number was about.
    appointment = models.ForeignKey(Appointment, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="inbound_messages")
    outcome = models.CharField(max_length=16, choices=InboundOutcome.choices)
    note = models.CharField(max_length=300, blank=True)  # why the app did what it did, for the desk
    # Inbox messages and cancellation requests wait for a person; the rest are handled by the app on arrival.
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    handled_note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["outcome", "handled_at"])]

    def __str__(self) -> str:
        return f"Inbound SMS #{self.pk}"

    @property
    def is_unread(self) -> bool:
        return self.outcome == InboundOutcome.INBOX and self.handled_at is None


class SmsOptOut(models.Model):
    """A mobile number that replied STOP (or another opt-out word): no SMS goes to it until it replies START.

    Keyed by the number, not the client: the phone's owner opted out, whoever else shares the number, and Twilio
    itself blocks messages to it.
    """

    number = models.CharField(max_length=32, unique=True)  # E.164
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opted_out_at = models.DateTimeField(null=True, blank=True)  # empty: opted back in
    opted_in_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SMS opt-out"

    def __str__(self) -> str:
        return f"SMS opt-out #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.opted_out_at is not None
