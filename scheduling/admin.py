from django.contrib import admin

from practice.admin import ReadOnlyAdminMixin
from scheduling.models import Appointment, AppointmentType


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "default_duration", "colour", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only here: bookings change through the diary so that the rules and the audit trail apply."""

    list_display = ["starts_at", "practitioner", "client", "appointment_type", "location", "status"]
    list_filter = ["status", "practitioner", "location", "appointment_type"]
    search_fields = ["client__last_name", "client__first_name"]
    date_hierarchy = "starts_at"
    list_select_related = ["practitioner", "client", "appointment_type", "location"]
