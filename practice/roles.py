"""The three roles of the practice (DESIGN.md §1), held as Django groups.

The groups and their permissions are created by data migrations; this module only names them and
answers "what may this user do", caching the answer on the user object for the request.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.contrib.auth.backends import ModelBackend

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

FRONT_DESK = "Front desk"
PRACTITIONER = "Practitioner"
PRACTICE_ADMIN = "Practice admin"
ALL = (FRONT_DESK, PRACTITIONER, PRACTICE_ADMIN)


def group_names(user: User | AnonymousUser) -> frozenset[str]:
    """The user's roles: those of its groups that are one of ``ALL``."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ALL).values_list("name", flat=True))
        setattr(user, "_role_names", cached)  # noqa: B010 - a per-request cache on the user object
    return cached


class RolesBackend(ModelBackend):
    """Django's ModelBackend, reading the signed-in user's roles in the same query as the user.

    Every page asks for the roles (RoleRequiredMiddleware, the top bar), and a query of its own for them cost every
    request a round trip.
    """

    def get_user(self, user_id):
        from django.contrib.auth.models import User

        user = next(iter(User._default_manager.raw(_user_with_roles_sql(), [*ALL, user_id])), None)
        if user is None or not self.user_can_authenticate(user):
            return None
        user._role_names = frozenset(  # type: ignore[attr-defined]  # the cache group_names reads
            name for n, name in enumerate(ALL) if getattr(user, f"has_role_{n}"))
        return user


@cache
def _user_with_roles_sql() -> str:
    """The signed-in user and which of the three roles they have, in one row. Written out once rather than built by
    the ORM on every request: compiling the three EXISTS took three times as long as running the query (issue 10).
    The user's columns are named, not ``u.*``: a prepared statement (settings.py) must keep its result's shape when a
    migration adds a column while the app runs."""
    from django.contrib.auth.models import User

    columns = ", ".join(f'u."{field.column}"' for field in User._meta.concrete_fields)
    role = ("EXISTS (SELECT 1 FROM auth_user_groups ug INNER JOIN auth_group g ON g.id = ug.group_id "
            "WHERE ug.user_id = u.id AND g.name = %s)")
    roles = ", ".join(f"{role} AS has_role_{n}" for n in range(len(ALL)))
    return f"SELECT {columns}, {roles} FROM auth_user u WHERE u.id = %s"  # noqa: S608 - names from the model only


def is_practice_admin(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or PRACTICE_ADMIN in group_names(user)))


def is_front_desk(user: User | AnonymousUser) -> bool:
    return FRONT_DESK in group_names(user)


def can_manage_all_appointments(user: User | AnonymousUser) -> bool:
    """Front desk and admins book, move and cancel for every practitioner."""
    return is_practice_admin(user) or is_front_desk(user)


def label(user: User | AnonymousUser) -> str:
    names = group_names(user)
    if is_practice_admin(user):
        return PRACTICE_ADMIN
    for name in (FRONT_DESK, PRACTITIONER):
        if name in names:
            return name
    return ""


def grant_permissions(apps, grants: dict[str, list[str]]) -> None:
    """For data migrations: give each role (created if missing) the named "app_label.codename" permissions.

    Django creates permissions only after all migrations have run, so they are created here first.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in grants.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
