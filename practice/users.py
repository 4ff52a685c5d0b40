"""Users and roles (Options → Users and roles): the one write path for staff accounts.

Rules, checked here so that every caller (page, command, import) keeps them:
- each user has exactly one of the three roles (DESIGN.md §1); the superuser flag is never handed out here;
- a practice admin can never change, deactivate, demote or set the password of a superuser: otherwise they could
  take over the account that is above them (issue 8: a new password for a superuser, then log in as it);
- the practice always keeps an active practice admin: without one nobody can reach Options again;
- nobody deactivates or demotes themselves: they would lock themselves out in the middle of the change;
- users are deactivated, never deleted (their audit events keep pointing at them);
- every change is exactly one audit event with its field changes; a password only as "changed".
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.contrib.auth.models import AnonymousUser, Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from practice import roles
from practice.audit import audit_record, field_changes
from practice.errors import ApplicationError

ROLE_CHOICES = roles.ALL
EDITABLE_FIELDS = ("first_name", "last_name", "email", "role")
AUDITED_FIELDS = ("username", *EDITABLE_FIELDS, "is_active")

# Bidirectional overrides and isolates make a name display as something other than what is stored.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate_person_text(value: str) -> None:
    """Names and usernames show in the top bar, the audit trail and emails: one line, shown as stored."""
    if any(unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS for char in value):
        raise ValidationError("Enter this on one line, without line breaks, control or direction characters.",
                              code="control_characters")


def user_role(user: User) -> str:
    """The user's role (one of roles.ALL), or "" for none. Reads prefetched groups when there are any."""
    names = {group.name for group in user.groups.all()}
    for name in (roles.PRACTICE_ADMIN, roles.PRACTITIONER, roles.FRONT_DESK):
        if name in names:
            return name
    return ""


def may_manage(actor: User | AnonymousUser, target: User) -> bool:
    """Whether ``actor`` may change ``target`` at all (pages hide what the services would refuse)."""
    return roles.is_practice_admin(actor) and (actor.is_superuser or not target.is_superuser)


def _values(user: User) -> dict[str, Any]:
    return {"username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "role": user_role(user), "is_active": user.is_active}


def _refuse_unless_allowed(actor: User, target: User | None) -> None:
    if not roles.is_practice_admin(actor):
        raise ApplicationError("Only a practice admin can manage users.", code="not_admin")
    if target is not None and target.is_superuser and not actor.is_superuser:
        raise ApplicationError(f"{target.get_username()} is a superuser: only a superuser can change that account.",
                               code="superuser")


def _check_role(role: str) -> None:
    if role not in ROLE_CHOICES:
        raise ApplicationError("Choose one of the roles: " + ", ".join(ROLE_CHOICES) + ".", code="invalid_role",
                               extra={"errors": {"role": ["Choose one of the roles."]}})


def _invalid(exc: ValidationError, field: str | None = None) -> ApplicationError:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {field or "__all__": exc.messages}
    return ApplicationError(" ".join(exc.messages), code="invalid", extra={"errors": errors})


def _clean_user(user: User) -> None:
    """The model's own checks (username characters, lengths, email) plus one-line names, or a refusal."""
    errors: dict[str, list[str]] = {}
    for name in ("username", "first_name", "last_name", "email"):
        try:
            validate_person_text(getattr(user, name))
        except ValidationError as exc:
            errors.setdefault(name, []).extend(exc.messages)
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ApplicationError(" ".join(message for messages in errors.values() for message in messages),
                               code="invalid", extra={"errors": errors})


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise _invalid(exc, "password") from None


def _lock_admin_count() -> None:
    """Serialise every change that can remove a practice admin: two admins demoting each other at the same time
    must not both succeed. The role's group row is the lock; the count is read after it is held."""
    Group.objects.select_for_update().filter(name=roles.PRACTICE_ADMIN).first()


def _other_active_admins(user: User) -> bool:
    return User.objects.filter(is_active=True, groups__name=roles.PRACTICE_ADMIN).exclude(pk=user.pk).exists()


def _refuse_losing_last_admin(user: User, *, was_admin: bool, stays_admin: bool) -> None:
    if was_admin and not stays_admin and not _other_active_admins(user):
        raise ApplicationError(f"{user.get_username()} is the last active practice admin: make someone else a "
                               "practice admin first, or nobody could reach Options.", code="last_admin")


def _set_role(user: User, role: str) -> None:
    others = [group for group in user.groups.all() if group.name in ROLE_CHOICES and group.name != role]
    if others:
        user.groups.remove(*others)
    if role not in {group.name for group in user.groups.all()}:
        user.groups.add(Group.objects.get(name=role))
    # The groups changed: drop the prefetched and per-request caches so the next read sees the new role.
    getattr(user, "_prefetched_objects_cache", {}).pop("groups", None)
    if hasattr(user, "_role_names"):
        delattr(user, "_role_names")


@transaction.atomic
def user_create(*, actor: User, username: str, first_name: str, last_name: str, email: str, role: str,
                password: str) -> User:
    """Add a user with exactly one role and an initial password (Django's password validators apply)."""
    _refuse_unless_allowed(actor, None)
    _check_role(role)
    username = username.strip()
    user = User(username=username, first_name=first_name.strip(), last_name=last_name.strip(),
                email=email.strip(), is_active=True)
    _clean_user(user)
    taken = User.objects.filter(username__iexact=username)
    if taken.exists():
        # Logins are case-sensitive: "Sam" and "sam" would be two accounts nobody can tell apart.
        raise ApplicationError(f"The username {taken[0].username} is taken (usernames are the same whatever their "
                               "capitals).", code="username_taken",
                               extra={"errors": {"username": ["This username is taken."]}})
    _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():  # a username taken meanwhile must not break the caller's transaction
            user.save()
    except IntegrityError:
        raise ApplicationError("This username is taken.", code="username_taken",
                               extra={"errors": {"username": ["This username is taken."]}}) from None
    _set_role(user, role)
    # A new user's fields left empty are no change worth a line in the trail.
    given = {name: value for name, value in _values(user).items() if value not in ("", None)}
    changes = field_changes({}, {**given, "password": user.password}, secret_fields=("password",))
    audit_record(actor=actor, action="user.created", obj=user, summary=f"User {user.username} added as {role}",
                 changes=changes)
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, first_name: str, last_name: str, email: str, role: str) -> User:
    """Change a user's name, email and role. No event when nothing changed."""
    _lock_admin_count()
    locked = User.objects.select_for_update().get(pk=user.pk)
    _refuse_unless_allowed(actor, locked)
    before = _values(locked)
    if role != before["role"]:
        _check_role(role)
        if locked.pk == actor.pk:
            raise ApplicationError("You cannot change your own role: ask another practice admin.",
                                   code="own_role")
    if locked.is_active:
        _refuse_losing_last_admin(locked, was_admin=before["role"] == roles.PRACTICE_ADMIN,
                                  stays_admin=role == roles.PRACTICE_ADMIN)
    locked.first_name, locked.last_name, locked.email = first_name.strip(), last_name.strip(), email.strip()
    _clean_user(locked)
    locked.save(update_fields=["first_name", "last_name", "email"])
    if role != before["role"]:
        _set_role(locked, role)
    changes = field_changes(before, _values(locked))
    if changes:  # saving an unchanged form changes nothing, so it is no event in the trail
        audit_record(actor=actor, action="user.changed", obj=locked, summary=f"User {locked.username} changed",
                     changes=changes)
    return locked


@transaction.atomic
def user_set_active(*, actor: User, user: User, is_active: bool) -> User:
    """Deactivate (they can no longer log in; their history stays) or reactivate a user. Users are never deleted."""
    _lock_admin_count()
    locked = User.objects.select_for_update().get(pk=user.pk)
    _refuse_unless_allowed(actor, locked)
    if locked.is_active == is_active:
        return locked
    if not is_active:
        if locked.pk == actor.pk:
            raise ApplicationError("You cannot deactivate yourself: ask another practice admin.", code="self")
        _refuse_losing_last_admin(locked, was_admin=user_role(locked) == roles.PRACTICE_ADMIN, stays_admin=False)
    before = _values(locked)
    locked.is_active = is_active
    locked.save(update_fields=["is_active"])
    audit_record(actor=actor, action="user.reactivated" if is_active else "user.deactivated", obj=locked,
                 summary=f"User {locked.username} {'reactivated' if is_active else 'deactivated'}",
                 changes=field_changes(before, _values(locked)))
    return locked


@transaction.atomic
def user_set_password(*, actor: User, user: User, password: str) -> User:
    """Set or reset a password (Django's validators apply). The trail says only that it changed.

    Django's session hash follows the password, so the user's other sessions end with it.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    _refuse_unless_allowed(actor, locked)
    _check_password(password, locked)
    before = locked.password
    locked.set_password(password)
    locked.save(update_fields=["password"])
    audit_record(actor=actor, action="user.password_set", obj=locked,
                 summary=f"Password of {locked.username} set",
                 changes=field_changes({"password": before}, {"password": locked.password},
                                       secret_fields=("password",)))
    return locked
