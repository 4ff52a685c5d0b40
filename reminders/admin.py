from django.contrib import admin

from reminders.forms import ReminderSettingsForm
from reminders.models import ReminderSettings


@admin.register(ReminderSettings)
class ReminderSettingsAdmin(admin.ModelAdmin):
    form = ReminderSettingsForm  # the same bounds as the in-app page (and the model's validators)
    list_display = ["__str__", "lead_hours", "quiet_start", "quiet_end", "scheduler_enabled", "low_balance_warning"]

    def has_add_permission(self, request):
        return not ReminderSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
