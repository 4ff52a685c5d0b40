import unicodedata
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

from practice.models import Client, Location, Practitioner
from telehealth.models import ZoomMeeting

# Name of the PostgreSQL exclusion constraint (created in migration 0002); the service turns its
# violation into the same conflict message the SQLite path gives.
NO_OVERLAP_CONSTRAINT = "appointment_no_overlap"


# The booking form's duration field takes the same range: a type must be bookable at its own length.
TYPE_MINUTES_MIN, TYPE_MINUTES_MAX = 5, 720
# No appointment is longer (scheduling.services refuses one): reads of a day look back this far only.
APPOINTMENT_LONGEST = timedelta(hours=12)
# Bidirectional overrides and isolates make a name display as something other than what is stored.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate_type_name(value: str) -> None:
    """A name shown in the diary, the booking form and reminders: one line, no hidden control characters.

    Right-to-left text and emoji are fine; control characters (NUL, CR/LF) and bidi overrides are not.
    """
    if not value.strip():
        raise ValidationError("Enter a name.", code="blank")
    if any(unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS for char in value):
        raise ValidationError("Enter the name on one line, without control characters.", code="control_characters")


validate_colour = RegexValidator(r"^#[0-9a-fA-F]{6}\Z", "Enter a colour as #rrggbb, e.g. #6b8fd6.", code="colour")


class AppointmentType(models.Model):
    # Written through scheduling.services.appointment_type_create/update, which call full_clean(): the validators
    # and the constraint below hold for every path that validates, and the constraint also for those that don't.
    name = models.CharField(max_length=80, unique=True, validators=[validate_type_name])
    default_duration = models.PositiveIntegerField(
        "default duration (minutes)", default=30,
        validators=[MinValueValidator(TYPE_MINUTES_MIN), MaxValueValidator(TYPE_MINUTES_MAX)],
        help_text=f"{TYPE_MINUTES_MIN} to {TYPE_MINUTES_MAX} minutes.")
    colour = models.CharField(max_length=7, default="#6b8fd6", validators=[validate_colour])
    is_active = models.BooleanField("active", default=True,
                                    help_text="Inactive types are kept for past appointments but cannot be booked.")
    usually_telehealth = models.BooleanField(
        "usually telehealth", default=False,
        help_text="Ticks Telehealth in the booking form when this type is chosen (it can still be unticked).")

    class Meta:
        ordering = ["name"]
        constraints = [
            # "Initial consult" and "initial consult" would be two entries nobody can tell apart in the diary.
            models.UniqueConstraint(Lower("name"), name="appointment_type_name_ci_unique",
                                    violation_error_message="An appointment type with this name already exists."),
        ]

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    BOOKED = "booked", "Booked"
    ARRIVED = "arrived", "Arrived"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    DID_NOT_ATTEND = "dna", "Did not attend"


class ConfirmedVia(models.TextChoices):
    """Who confirmed an appointment: the client from their page or by an SMS reply, or the desk for them."""

    CLIENT_LINK = "link", "client (link)"
    CLIENT_SMS = "sms", "client (SMS)"
    STAFF = "staff", "staff"


SERIES_WEEKS_MAX = 12  # "repeat every N weeks": a course of treatment, not a standing booking for ever


class AppointmentSeries(models.Model):
    """Appointments booked together as a repeat ("every N weeks"), so they can be moved or cancelled together.

    The rule that made the dates is not kept: each appointment is an ordinary appointment that may be moved or
    cancelled on its own; the series only ties them for "this and following".
    """

    interval_weeks = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(SERIES_WEEKS_MAX)])
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name_plural = "appointment series"

    def __str__(self) -> str:
        return f"Series #{self.pk} (every {self.interval_weeks} week{'s' if self.interval_weeks > 1 else ''})"


class Appointment(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="appointments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    notes = models.TextField(blank=True)
    is_telehealth = models.BooleanField("telehealth", default=False)
    # The appointment's current Zoom meeting; earlier ones keep their own rows until Zoom deleted them.
    zoom_meeting = models.OneToOneField(ZoomMeeting, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="appointment")
    # Set when the client (or the desk for them) confirms; a move clears it, since the client confirmed another time.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_via = models.CharField(max_length=8, choices=ConfirmedVia.choices, blank=True)
    # iCalendar SEQUENCE for every calendar copy of this appointment (client .ics, telehealth email, feeds): each
    # move, cancel and reinstate raises it, so calendars replace the event with the same UID instead of adding one.
    calendar_sequence = models.PositiveIntegerField(default=0, editable=False)
    # Set when the client cancelled from their page and the desk has not seen it yet (Needs attention lists it
    # while the freed time is still ahead); the audit trail keeps who cancelled for good.
    client_cancel_unseen_since = models.DateTimeField(null=True, blank=True)
    series = models.ForeignKey(AppointmentSeries, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="appointments")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["starts_at"]),
            models.Index(fields=["practitioner", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="appointment_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"Appointment #{self.pk}"

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at

    @property
    def calendar_uid(self) -> str:
        """The iCalendar UID every calendar copy of this appointment carries, stable across moves."""
        return f"appointment-{self.pk}@practice-diary"

    @property
    def is_cancelled(self) -> bool:
        return self.status == Status.CANCELLED


class CalendarFeed(models.Model):
    """A practitioner's calendar subscription link (issue 11): off until they turn it on.

    The link carries a JWT naming the practitioner and ``version`` (scheduling.feeds); raising the version ("reset
    link", turning the feed off) makes every link signed before it stop working. Written only through
    scheduling.feeds' services.
    """

    practitioner = models.OneToOneField(Practitioner, on_delete=models.CASCADE, related_name="calendar_feed")
    is_enabled = models.BooleanField("on", default=False)
    version = models.PositiveIntegerField(default=1)
    show_full_names = models.BooleanField(
        default=False, help_text="Events name the client in full instead of by initials.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.practitioner}"


class ClientLink(models.Model):
    """One short link to the client's page of an appointment (`/c/<code>`), as sent in one message.

    Only the SHA-256 of the code is kept: a copy of the database holds no working link. A link works until a day
    after the appointment's end, wherever a move puts it (scheduling.services.client_link_find decides).
    """

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="client_links")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Client link #{self.pk}"
