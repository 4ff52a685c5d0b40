from datetime import timedelta

from django.conf import settings
from django.db import models

from practice.models import Client, Location, Practitioner
from telehealth.models import ZoomMeeting

# Name of the PostgreSQL exclusion constraint (created in migration 0002); the service turns its
# violation into the same conflict message the SQLite path gives.
NO_OVERLAP_CONSTRAINT = "appointment_no_overlap"


class AppointmentType(models.Model):
    name = models.CharField(max_length=80, unique=True)
    default_duration = models.PositiveIntegerField("default duration (minutes)", default=30)
    colour = models.CharField(max_length=7, default="#6b8fd6")
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    BOOKED = "booked", "Booked"
    ARRIVED = "arrived", "Arrived"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    DID_NOT_ATTEND = "dna", "Did not attend"


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
    def is_cancelled(self) -> bool:
        return self.status == Status.CANCELLED
