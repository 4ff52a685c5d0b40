from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

from practice import roles


class OptionsAdminSite(admin.AdminSite):
    site_header = "Options"
    site_title = "Options"
    index_title = "Practice options"

    def has_permission(self, request: HttpRequest) -> bool:
        # Practice admins reach Options through their role; nobody needs the is_staff flag set by hand.
        user = request.user
        return user.is_active and (user.is_superuser or roles.is_practice_admin(user))


class OptionsAdminConfig(AdminConfig):
    """Django admin, presented to practice admins as "Options"."""

    default_site = "practice.admin_site.OptionsAdminSite"
