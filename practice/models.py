import copy
import unicodedata
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import time
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from practice.phones import mobile_to_e164, phone_display
from practice.search import client_search_name, client_search_text, name_skeleton
from practice.timezones import validate_reasonable_day

WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"),
            (5, "Saturday"), (6, "Sunday")]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a time zone name such as Australia/Sydney.")


def validate_single_line(value: str) -> None:
    """No line breaks or other control characters in a one-line text.

    These names end up in email headers (From, Subject) and SMS: a CR/LF there makes every email fail with
    BadHeaderError, long after it was typed. Refused when saved, on every path that validates (admin, forms,
    commands calling full_clean()).
    """
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError("Enter this on one line, without line breaks or control characters.",
                              code="control_characters")


def validate_multiline_text(value: str) -> None:
    """Addresses and notes may span lines, but hold no other control characters (a NUL cannot even be stored
    in PostgreSQL, and the rest print as garbage in letters, emails and SMS)."""
    if any(unicodedata.category(char) == "Cc" and char not in "\r\n\t" for char in value):
        raise ValidationError("Remove the control characters from this text.", code="control_characters")


validate_colour = RegexValidator(r"^#[0-9a-fA-F]{6}\Z", "Enter a colour as #rrggbb, e.g. #4f7cac.", code="colour")


def validate_mobile(value: str) -> None:
    """A client's mobile is stored as E.164 of a valid mobile number (SMS go to it, pages format it)."""
    try:
        normalised = mobile_to_e164(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_mobile") from None
    if normalised != value:
        raise ValidationError("Store the mobile number in international form, e.g. +61412345678.",
                              code="mobile_not_e164")


def validate_phone(value: str) -> None:
    """A practice or location phone, printed in reminders: a real number of any kind (landline, mobile, 1300),
    however it is spaced (the form stores it as phones.phone_display() writes it)."""
    try:
        phone_display(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_phone") from None


def validate_date_of_birth(value) -> None:
    validate_reasonable_day(value)
    if value > timezone.localdate():
        raise ValidationError("A date of birth cannot be in the future.", code="future_birth")


# A TextField's max_length only sizes the form's input; these make full_clean() refuse a longer text too.
ADDRESS_MAX, NOTES_MAX = 500, 5000


def _on_the_minute(value: time, step: int) -> bool:
    return value.second == 0 and value.microsecond == 0 and value.minute % step == 0


def validate_quarter_hour(value: time) -> None:
    """The diary's rows are 15 minutes: opening hours fall on a row's edge."""
    if not _on_the_minute(value, 15):
        raise ValidationError("Use a quarter hour, e.g. 07:00, 07:15, 07:30.", code="quarter_hour")


def validate_five_minutes(value: time) -> None:
    """Shifts start and end on five minutes, like bookings."""
    if not _on_the_minute(value, 5):
        raise ValidationError("Use a time on five minutes, e.g. 09:00 or 12:35.", code="five_minutes")


class Practice(models.Model):
    """The practice's own settings; there is exactly one row (pk=1)."""

    name = models.CharField(max_length=120, default="Our practice", validators=[validate_single_line])
    time_zone = models.CharField(max_length=64, default="Australia/Sydney", validators=[validate_time_zone])
    phone = models.CharField(max_length=32, blank=True, validators=[validate_single_line, validate_phone])
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True, max_length=ADDRESS_MAX,
                               validators=[validate_multiline_text, MaxLengthValidator(ADDRESS_MAX)])
    opens_at = models.TimeField(default=time(7, 0), help_text="First row of the diary.",
                                validators=[validate_quarter_hour])
    closes_at = models.TimeField(default=time(19, 0), help_text="Last row of the diary ends here.",
                                 validators=[validate_quarter_hour])
    # Clients may cancel from their page (/c/<code>) only this long before the start; later they phone.
    client_cancel_notice_hours = models.PositiveSmallIntegerField(
        "cancellation notice (hours)", default=24, validators=[MaxValueValidator(14 * 24)],
        help_text="Clients can cancel from their appointment link until this many hours before the start; "
                  "after that the page asks them to phone.")

    class Meta:
        verbose_name = "practice settings"
        verbose_name_plural = "practice settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(closes_at__gt=models.F("opens_at")),
                                   name="practice_closes_after_opening"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.opens_at is not None and self.closes_at is not None and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": "Closing time must be after opening time."})

    @classmethod
    def load(cls) -> "Practice":
        """The practice's settings: a copy of the request's (PracticeTimeZoneMiddleware read them once), else from the
        database. Services read the zone from here; a booking did so three times in one request. A copy, as a fresh
        read was: whoever changes theirs does not change the request's (the top bar shows it)."""
        practice = _request_practice.get()
        if practice is None:
            practice, _ = cls.objects.get_or_create(pk=1)
            return practice
        return copy.copy(practice)

    @classmethod
    @contextmanager
    def for_request(cls) -> "Iterator[Practice]":
        """Read once, and what Practice.load() returns until the request is answered."""
        practice, _ = cls.objects.get_or_create(pk=1)
        token = _request_practice.set(practice)
        try:
            yield practice
        finally:
            _request_practice.reset(token)

    @cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


# The practice read for the request being answered (Practice.for_request), or None outside one (tasks, commands).
_request_practice: ContextVar[Practice | None] = ContextVar("request_practice", default=None)


class Location(models.Model):
    name = models.CharField(max_length=80, unique=True, validators=[validate_single_line])
    address = models.TextField(blank=True, max_length=ADDRESS_MAX,
                               validators=[validate_multiline_text, MaxLengthValidator(ADDRESS_MAX)])
    phone = models.CharField(max_length=32, blank=True, validators=[validate_single_line, validate_phone])
    colour = models.CharField(max_length=7, default="#4f7cac", help_text="Hex colour, e.g. #4f7cac.",
                              validators=[validate_colour])
    is_active = models.BooleanField("active", default=True)
    is_telehealth = models.BooleanField(
        "telehealth", default=False,
        help_text="Reminders for appointments here say “Telehealth (online)” and never print a street address.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Practitioner(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="practitioner")
    display_name = models.CharField(max_length=80, validators=[validate_single_line])
    profession = models.CharField(max_length=80, blank=True, validators=[validate_single_line])
    colour = models.CharField(max_length=7, default="#2e7d6b", validators=[validate_colour])
    is_active = models.BooleanField("active", default=True)
    default_location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class WorkingHours(models.Model):
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    starts_at = models.TimeField(validators=[validate_five_minutes])
    ends_at = models.TimeField(validators=[validate_five_minutes])
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name_plural = "working hours"
        ordering = ["practitioner", "weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="working_hours_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"

    def clean(self) -> None:
        if self.starts_at is not None and self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "A shift must end after it starts."})


class ClientQuerySet(models.QuerySet):
    """bulk_create() and bulk_update() skip save(): they keep the search columns themselves. (An update() of a
    name, mobile or email would leave them stale; nothing in the app does that.)"""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for client in objs:
            client.refresh_search_columns()
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs, fields = list(objs), list(fields)
        if Client.SEARCH_SOURCES.intersection(fields):
            for client in objs:
                client.refresh_search_columns()
            fields += [name for name in Client.SEARCH_COLUMNS if name not in fields]
        return super().bulk_update(objs, fields, *args, **kwargs)


class Client(models.Model):
    first_name = models.CharField(max_length=60, validators=[validate_single_line])
    last_name = models.CharField(max_length=60, validators=[validate_single_line])
    preferred_name = models.CharField(max_length=60, blank=True, validators=[validate_single_line])
    date_of_birth = models.DateField(null=True, blank=True, validators=[validate_date_of_birth])
    mobile = models.CharField(max_length=20, blank=True, help_text="Stored in international (E.164) form.",
                              validators=[validate_mobile])
    email = models.EmailField(blank=True)
    sms_reminders = models.BooleanField("SMS reminders", default=True)
    email_reminders = models.BooleanField(default=True)
    notes = models.TextField(blank=True, max_length=NOTES_MAX,
                             validators=[validate_multiline_text, MaxLengthValidator(NOTES_MAX)])
    created_at = models.DateTimeField(auto_now_add=True)
    # Derived from the fields above on every save() (practice/search.py says how); never typed.
    search_name = models.CharField(max_length=130, blank=True, editable=False, db_index=True)
    search_text = models.TextField(blank=True, editable=False)
    # Each name's consonant skeleton ("Kelly" → "kl"): typos found by index look-ups where there is no pg_trgm.
    search_key_first = models.CharField(max_length=60, blank=True, editable=False, db_index=True)
    search_key_last = models.CharField(max_length=60, blank=True, editable=False, db_index=True)
    search_key_preferred = models.CharField(max_length=60, blank=True, editable=False, db_index=True)

    SEARCH_SOURCES = frozenset({"first_name", "last_name", "preferred_name", "mobile", "email"})
    SEARCH_COLUMNS = ("search_name", "search_text", "search_key_first", "search_key_last", "search_key_preferred")

    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        # On PostgreSQL, migration 0005 adds a pg_trgm GIN index on search_text (SQLite has no such index type).
        indexes = [models.Index(fields=["last_name", "first_name"]), models.Index(fields=["mobile"])]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs) -> None:
        # Here rather than in the services so that no path that saves a client (the services, the demo seed, the
        # admin, tests) can leave the search columns stale; ClientQuerySet covers the bulk paths.
        self.refresh_search_columns()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and self.SEARCH_SOURCES.intersection(update_fields):
            kwargs["update_fields"] = {*update_fields, *self.SEARCH_COLUMNS}
        super().save(*args, **kwargs)

    def refresh_search_columns(self) -> None:
        self.search_name = client_search_name(first_name=self.first_name, last_name=self.last_name)[:130]
        self.search_text = client_search_text(first_name=self.first_name, last_name=self.last_name,
                                              preferred_name=self.preferred_name, mobile=self.mobile,
                                              email=self.email)
        self.search_key_first = name_skeleton(self.first_name)[:60]
        self.search_key_last = name_skeleton(self.last_name)[:60]
        self.search_key_preferred = name_skeleton(self.preferred_name)[:60]

    @property
    def full_name(self) -> str:
        first = self.preferred_name or self.first_name
        return f"{first} {self.last_name}"


class AppendOnly(ValueError):
    """Something tried to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet):
    """No bulk path around the model's own refusal either (PostgreSQL also refuses it with a trigger)."""

    def update(self, **kwargs):
        raise AppendOnly("Audit events are append-only.")

    def delete(self):
        raise AppendOnly("Audit events are append-only.")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnly("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only: who did what to which object, and when. No patient contact details in ``changes``.

    The actor's name is kept on the event, and a user who acted cannot be deleted (PROTECT): people are
    deactivated, so the trail never loses who did what.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)  # empty: the system (a task, the Scheduler)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    summary = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnly("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit events are append-only.")
