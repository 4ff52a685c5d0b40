from functools import wraps

from django import forms
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models
from django.http import HttpRequest

# Beyond this no integer fits any column (SQLite's own limit; PostgreSQL's are narrower and asked for below).
LARGEST_INTEGER = 2**63 - 1


class BoundedChangeList(ChangeList):
    """Filters Django passes to the database unchecked are bad lookups here, which the admin answers like any
    other: the list again, with ``?e=1``. A NUL in a filter value (``?action=%00``) fails on PostgreSQL with
    DataError; the date drill-down (``?at__year=9999999999999999999999``) raises OverflowError in Django itself."""

    def get_filters(self, request):
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("A filter value cannot contain a NUL character.")
        try:
            return super().get_filters(request)
        except OverflowError as exc:
            raise IncorrectLookupParameters(exc) from exc


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Django checks each chosen key alone (where an out-of-range integer just matches nothing) and then all of
    them with ``pk__in``, where SQLite raises OverflowError and PostgreSQL fails the admin's transaction. A key
    out of the column's range is an invalid choice before any query runs."""

    def _check_values(self, value):
        key_field = (self.queryset.model._meta.get_field(self.to_field_name) if self.to_field_name
                     else self.queryset.model._meta.pk)
        if isinstance(key_field, models.IntegerField) and isinstance(value, list | tuple):
            low, high = connection.ops.integer_field_range(key_field.get_internal_type())
            low, high = low or -LARGEST_INTEGER - 1, high or LARGEST_INTEGER
            for choice in value:
                try:
                    number = int(str(choice))
                except ValueError:
                    continue  # Django's own check names it
                if not low <= number <= high:
                    raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                          params={"value": choice})
        return super()._check_values(value)


class HostileInputAdminMixin:
    """Mixed into every ModelAdmin of the Django admin, so that no input gives a 500 there (RELIABILITY.md 25)."""

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", BoundedModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


class GenericTitlesAdminMixin:
    """Django's admin titles name the object ("Change client: Casey Smith"), and the browser keeps titles in its
    history. Here they name only the kind of object (RELIABILITY.md 29); the form itself still shows who it is."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url,  # type: ignore[misc]
                                   {**(extra_context or {}), "subtitle": None})

    def delete_view(self, request, object_id, extra_context=None):
        return super().delete_view(request, object_id,  # type: ignore[misc]
                                   {**(extra_context or {}), "subtitle": None})

    def history_view(self, request, object_id, extra_context=None):
        title = f"Change history: {self.opts.verbose_name}"  # type: ignore[attr-defined]
        return super().history_view(request, object_id,  # type: ignore[misc]
                                    {**(extra_context or {}), "title": title})


class OptionsAdminSite(admin.AdminSite):
    """The stock Django admin, at /django-admin/, for superusers only (the people who run the installation).

    Practice admins work in Options, the app's own pages, where every write goes through a service with its rules
    and one audit event. Here it would be a second way in that skips both (issue 8: a client's mobile stored as
    typed, no audit, a practice admin setting a superuser's password). So for anyone signed in who is not a
    superuser, every URL of this site answers 403, its login page included, rather than offering another login.
    """

    site_header = "Django admin (superusers)"
    site_title = "Django admin"
    index_title = "Data of the installation"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_superuser)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def refuse_the_signed_in(request: HttpRequest, *args, **kwargs):
            # Django would send them to the admin's own login page (a 200 offering to sign in as someone else).
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("The Django admin is for superusers. Options has everything else.")
            return inner(request, *args, **kwargs)

        return refuse_the_signed_in

    def login(self, request: HttpRequest, extra_context=None):
        # Not marked login_not_required (unlike Django's): a visitor gets the app's own login, with its
        # throttling, and comes back here; a signed-in non-superuser is refused like everywhere else on this site.
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied("The Django admin is for superusers. Options has everything else.")
        return super().login(request, extra_context)

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        # Every app's admin (and the ones Django and axes bring) gets the hostile-input guards and generic titles,
        # without each having to remember a base class.
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, HostileInputAdminMixin):
            admin_class = type(admin_class.__name__,
                               (HostileInputAdminMixin, GenericTitlesAdminMixin, admin_class),
                               {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__})
        super().register(model_or_iterable, admin_class, **options)


class OptionsAdminConfig(AdminConfig):
    """The Django admin with the site above (its name stays: settings refer to it)."""

    default_site = "practice.admin_site.OptionsAdminSite"
