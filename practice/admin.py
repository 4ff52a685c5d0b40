from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from practice.models import AuditEvent, Client, Location, Practice, Practitioner, WorkingHours


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "phone", "email", "opens_at", "closes_at"]

    def has_add_permission(self, request):
        return not Practice.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "is_telehealth", "is_active", "phone"]
    list_filter = ["is_active", "is_telehealth"]
    search_fields = ["name", "address"]


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 1


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "profession", "user", "default_location", "is_active"]
    list_filter = ["is_active", "profession", "default_location"]
    search_fields = ["display_name", "user__username", "user__email"]
    list_select_related = ["user", "default_location"]
    inlines = [WorkingHoursInline]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "preferred_name", "mobile", "email", "sms_reminders",
                    "email_reminders"]
    list_filter = ["sms_reminders", "email_reminders"]
    search_fields = ["last_name", "first_name", "preferred_name", "email", "mobile"]


class ReadOnlyAdminMixin:
    """Listed and viewed under Options, changed only through the app's own services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id", "summary"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "summary", "actor__username"]
    date_hierarchy = "at"
    list_select_related = ["actor"]


class PracticeUserAdmin(UserAdmin):
    list_display = ["username", "first_name", "last_name", "email", "roles", "is_active", "last_login"]
    list_filter = ["groups", "is_active"]

    @admin.display(description="Roles")
    def roles(self, obj: User) -> str:
        return ", ".join(group.name for group in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def has_delete_permission(self, request, obj=None):
        # Users are deactivated, never deleted: their audit events keep pointing at them (PROTECT).
        return False


admin.site.unregister(User)
admin.site.register(User, PracticeUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, GroupAdmin)
