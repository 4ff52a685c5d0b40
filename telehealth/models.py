from django.db import models

from practice.models import Practitioner


class ConnectionStatus(models.TextChoices):
    UNTESTED = "untested", "Not tested"
    CONNECTED = "connected", "Connected"
    FAILING = "failing", "Failing"


class ZoomConnection(models.Model):
    """One practitioner's Zoom Server-to-Server OAuth connection (R1, R2).

    Several practitioners may share the practice's app credentials, each with their own Zoom user.
    """

    practitioner = models.OneToOneField(Practitioner, on_delete=models.CASCADE, related_name="zoom_connection")
    account_id = models.CharField("account ID", max_length=100)
    client_id = models.CharField("client ID", max_length=100)
    client_secret_encrypted = models.TextField()  # Fernet token; see telehealth.crypto
    zoom_user = models.CharField("Zoom user", max_length=200, help_text="The practitioner's Zoom email or user ID.")
    status = models.CharField(max_length=12, choices=ConnectionStatus.choices, default=ConnectionStatus.UNTESTED)
    status_reason = models.CharField(max_length=300, blank=True)
    status_since = models.DateTimeField(null=True, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    zoom_user_name = models.CharField(max_length=200, blank=True)
    zoom_user_email = models.CharField(max_length=200, blank=True)
    zoom_user_type = models.PositiveSmallIntegerField(null=True, blank=True)  # 1 Basic, 2 Licensed
    missing_scopes = models.JSONField(default=list, blank=True)
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


class ZoomMeeting(models.Model):
    """A Zoom meeting in a practitioner's account: to be created, live, or to be deleted.

    Rows are never removed: a meeting that must go stays PENDING_DELETE until Zoom confirms, so no
    meeting is orphaned (RELIABILITY.md 4). The host start_url is never stored (R17).
    """

    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="zoom_meetings")
    state = models.CharField(max_length=10, choices=MeetingState.choices, default=MeetingState.PENDING_CREATE,
                             db_index=True)
    zoom_id = models.BigIntegerField(null=True, blank=True)
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
    def is_live(self) -> bool:
        """Exists (or is about to) in Zoom for the appointment."""
        return self.state in (MeetingState.PENDING_CREATE, MeetingState.ACTIVE)
