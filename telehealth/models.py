from django.conf import settings
from django.db import models

from practice.models import Practitioner


class ConnectionStatus(models.TextChoices):
    UNTESTED = "untested", "Not tested"
    CONNECTED = "connected", "Connected"
    FAILING = "failing", "Failing"


class FailureKind(models.TextChoices):
    """Why a connection is failing: decides whether a later successful Zoom call may heal it."""

    NONE = "", "None"
    CREDENTIALS = "credentials", "Credentials refused"
    SCOPES = "scopes", "Missing scopes"
    USER = "user", "Zoom user not found"
    OTHER = "other", "Other"


class PracticeZoomApp(models.Model):
    """The practice's one Server-to-Server OAuth app, entered once and shared by connections that use it (issue 8).

    A single row (pk 1). The secret is encrypted like a connection's and never shown back.
    """

    SINGLETON_PK = 1

    account_id = models.CharField("account ID", max_length=100)
    client_id = models.CharField("client ID", max_length=100)
    client_secret_encrypted = models.TextField()  # Fernet token; see telehealth.crypto
    # The app's webhook "Secret Token" (issue 12), encrypted the same way; empty: this app sends no webhooks.
    webhook_secret_encrypted = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "The practice's Zoom app"

    @classmethod
    def load(cls) -> "PracticeZoomApp | None":
        return cls.objects.filter(pk=cls.SINGLETON_PK).first()


class ZoomConnection(models.Model):
    """One practitioner's Zoom Server-to-Server OAuth connection (R1, R2).

    Either it uses the practice's app (``uses_practice_app``: its own credential fields stay empty and only the
    Zoom user is its own) or it keeps an app of its own. Each practitioner has their own row and Zoom user.
    """

    practitioner = models.OneToOneField(Practitioner, on_delete=models.CASCADE, related_name="zoom_connection")
    uses_practice_app = models.BooleanField("uses the practice's Zoom app", default=False)
    account_id = models.CharField("account ID", max_length=100, blank=True)
    client_id = models.CharField("client ID", max_length=100, blank=True)
    client_secret_encrypted = models.TextField(blank=True)  # Fernet token; see telehealth.crypto
    # The own app's webhook "Secret Token" (issue 12), encrypted like the client secret.
    webhook_secret_encrypted = models.TextField(blank=True)
    zoom_user = models.CharField("Zoom user", max_length=200, help_text="The practitioner's Zoom email or user ID.")
    status = models.CharField(max_length=12, choices=ConnectionStatus.choices, default=ConnectionStatus.UNTESTED)
    status_reason = models.CharField(max_length=300, blank=True)
    status_since = models.DateTimeField(null=True, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    zoom_user_name = models.CharField(max_length=200, blank=True)
    zoom_user_email = models.CharField(max_length=200, blank=True)
    zoom_user_type = models.PositiveSmallIntegerField(null=True, blank=True)  # 1 Basic, 2 Licensed
    missing_scopes = models.JSONField(default=list, blank=True)
    failure_kind = models.CharField(max_length=12, choices=FailureKind.choices, blank=True, default="")
    # The last test could not reach Zoom (outage, timeout, 429): said on the page; the status is left as it was.
    last_test_problem = models.CharField(max_length=300, blank=True)
    # Zoom's 100 creates+updates per host per UTC day were used up: no create for this Zoom user before then.
    daily_limit_until = models.DateTimeField(null=True, blank=True)
    # The nightly orphan sweep's last word on this connection (issue 12), shown on Options → Zoom: what it
    # deleted, or why it was skipped (e.g. no scope to list the host's meetings).
    orphan_sweep_at = models.DateTimeField(null=True, blank=True)
    orphan_sweep_note = models.CharField(max_length=300, blank=True)
    orphan_sweep_skipped = models.BooleanField(default=False)  # the last sweep could not check this Zoom user
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Zoom for {self.practitioner}"

    @property
    def is_connected(self) -> bool:
        return self.status == ConnectionStatus.CONNECTED

    @property
    def is_basic(self) -> bool:
        return self.zoom_user_type == 1

    @property
    def plan(self) -> str:
        return {1: "Basic", 2: "Licensed"}.get(self.zoom_user_type or 0, "Unknown")


class MeetingState(models.TextChoices):
    PENDING_CREATE = "pending", "Pending"
    ACTIVE = "active", "Active"
    FAILED = "failed", "Failed"
    PENDING_DELETE = "deleting", "Being deleted"
    DELETED = "deleted", "Deleted"


class LiveState(models.TextChoices):
    """What Zoom's webhooks said about the meeting itself (issue 12); empty until Zoom says anything."""

    NONE = "", "Not started"
    IN_PROGRESS = "started", "In progress"
    ENDED = "ended", "Ended"


class ZoomMeeting(models.Model):
    """A Zoom meeting in a practitioner's account: to be created, live, or to be deleted.

    Rows are never removed: a meeting that must go stays PENDING_DELETE until Zoom confirms, so no
    meeting is orphaned (RELIABILITY.md 4). The host start_url is never stored (R17).
    """

    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="zoom_meetings")
    state = models.CharField(max_length=10, choices=MeetingState.choices, default=MeetingState.PENDING_CREATE,
                             db_index=True)
    zoom_id = models.BigIntegerField(null=True, blank=True, db_index=True)  # webhooks look meetings up by it
    host_user = models.CharField(max_length=200)
    topic = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    duration = models.PositiveIntegerField()  # minutes
    timezone = models.CharField(max_length=64)
    passcode = models.CharField(max_length=10)
    join_url = models.URLField(max_length=1000, blank=True)
    settings_applied = models.JSONField(default=dict, blank=True)
    settings_warnings = models.JSONField(default=list, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Set just before the create request goes out, cleared when its outcome is known: still set on a later
    # attempt means a worker died mid-request and the meeting may exist in Zoom.
    create_sent_at = models.DateTimeField(null=True, blank=True)
    # Opaque (random, no client data), sent as the agenda "ref:<create_ref>" so a later attempt can find the
    # meeting in the host's list instead of creating a second one.
    create_ref = models.CharField(max_length=32, blank=True)
    # An earlier create with this reference may have reached Zoom: look for it before creating.
    maybe_created = models.BooleanField(default=False)
    # The appointment it was made for, kept when the appointment lets go of it (R7, R8, R9), so the panel can say
    # it is still to be deleted. An integer, not a key: telehealth does not depend on scheduling.
    appointment_pk = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    # Since when the create or delete it waits for has been wanted (Needs attention lists it after ~15 minutes).
    pending_since = models.DateTimeField(null=True, blank=True)
    # The last error cannot heal by itself (e.g. Zoom 3003, a revoked scope): a person must act.
    needs_person = models.BooleanField(default=False)
    # A person checked Zoom and took it off the Needs attention list.
    attention_resolved_at = models.DateTimeField(null=True, blank=True)
    attention_resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                              on_delete=models.SET_NULL, related_name="+")
    # What Zoom's webhooks reported (issue 12, telehealth.webhooks). Only states and times: never a participant's
    # name or email.
    # Deleted in Zoom by someone outside the app (the row is then DELETED): when Zoom says it happened.
    deleted_in_zoom_at = models.DateTimeField(null=True, blank=True)
    # Time, duration, passcode or R4 settings changed in Zoom: {field: {"text": what changed or "" when it matches
    # the app again, "ts": the Zoom event time (ms) of the last change applied}}; an older event never overwrites.
    zoom_changes = models.JSONField(default=dict, blank=True)
    # Set while any change in ``zoom_changes`` is outstanding (the diary and Needs attention read this column).
    changed_in_zoom_at = models.DateTimeField(null=True, blank=True)
    live_state = models.CharField(max_length=8, choices=LiveState.choices, blank=True, default=LiveState.NONE)
    live_state_ts = models.BigIntegerField(null=True, blank=True)  # Zoom event time (ms) of the last applied
    # The waiting room: {"cleared_ts": ms the meeting ended (older joins are ignored), "participants":
    # {participant_uuid: [waiting since ms or None, ms of the last applied event]}}.
    waiting_room = models.JSONField(default=dict, blank=True)
    # The earliest participant still in the waiting room joined it then; None: nobody is waiting.
    waiting_since = models.DateTimeField(null=True, blank=True)
    # When a webhook last changed what the diary shows (its poll asks for changes since a time).
    zoom_event_applied_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Zoom meeting {self.zoom_id or '(not created)'}"

    @property
    def formatted_id(self) -> str:
        """853 4321 7788, as Zoom shows meeting IDs."""
        digits = str(self.zoom_id or "")
        if len(digits) == 11:
            return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        if len(digits) == 10:
            return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        return digits

    @property
    def appointment_ref_id(self) -> int | None:
        """The appointment's pk, also after the appointment let go of the meeting (see ``appointment_pk``)."""
        return self.appointment_pk

    @property
    def agenda(self) -> str:
        return f"ref:{self.create_ref}" if self.create_ref else ""

    @property
    def is_pending(self) -> bool:
        return self.state in (MeetingState.PENDING_CREATE, MeetingState.PENDING_DELETE)

    @property
    def zoom_change_texts(self) -> list[str]:
        """What was changed in Zoom and still differs from the appointment (issue 12)."""
        return [entry["text"] for entry in (self.zoom_changes or {}).values()
                if isinstance(entry, dict) and entry.get("text")]

    @property
    def is_live(self) -> bool:
        """Exists (or is about to) in Zoom for the appointment."""
        return self.state in (MeetingState.PENDING_CREATE, MeetingState.ACTIVE)


class WebhookEvent(models.Model):
    """One Zoom webhook delivery, recorded before it is acknowledged and applied by a worker (issue 12).

    ``dedupe_key`` (event, meeting uuid, participant uuid, event time) is unique: Zoom's retries and replays of the
    same event are recorded once and applied once. ``facts`` keeps only what applying needs (ids, times, the
    changed meeting fields and settings): never a participant's name or email.
    """

    dedupe_key = models.CharField(max_length=64, unique=True)  # sha256 hex of the key's parts
    event = models.CharField(max_length=80)
    event_ts = models.BigIntegerField()  # ms, Zoom's event time
    zoom_id = models.BigIntegerField(null=True, blank=True)
    # Which configured apps' secret tokens verified it ("practice", "connection:<pk>"): it may only touch their
    # meetings.
    verified_by = models.JSONField(default=list)
    facts = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"Zoom {self.event} at {self.event_ts}"


class ZoomDailyUsage(models.Model):
    """How many meeting creates and updates the app sent for one Zoom user (host) on one UTC day (issue 12).

    Zoom allows 100 per host per UTC day; the app counts its own before each call (``telehealth.services``
    increments with a conditional UPDATE, so concurrent workers never under-count) and holds the 101st instead of
    letting Zoom refuse it. ``host_user`` is the connection's Zoom user, lower-cased.
    """

    host_user = models.CharField(max_length=200)
    day = models.DateField()  # UTC
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host_user", "day"], name="zoom_daily_usage_once_per_day")]

    def __str__(self) -> str:
        return f"{self.host_user} on {self.day}: {self.count}"


class OrphanSweep(models.Model):
    """One run of the nightly orphan sweep (issue 12): meetings in Zoom carrying the app's reference that the app
    no longer has a live meeting for, and what became of them. Listed under Needs attention when it deleted or
    failed to delete something, until dismissed."""

    ran_at = models.DateTimeField(auto_now_add=True)
    deleted = models.JSONField(default=list)  # [{"host": Zoom user, "zoom_id": int, "start_time": iso}]
    # What could not be done: [{"host": Zoom user, "zoom_id": int or None, "problem": text}]
    problems = models.JSONField(default=list)
    skipped_hosts = models.JSONField(default=list)  # Zoom users without the list scope
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"Zoom orphan sweep at {self.ran_at:%Y-%m-%d %H:%M}"
