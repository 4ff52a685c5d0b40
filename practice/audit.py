from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import models

from practice.models import AuditEvent


def audit_record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    obj: models.Model,
    summary: str = "",
    changes: dict[str, Any] | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one event to the audit trail. Callers keep patient contact details out of ``changes``.

    ``actor_label`` names an actor who has no login, e.g. "client (link)"; without it and without a user the event
    is the system's.
    """
    person = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=person,
        actor_name=(person.get_full_name() or person.get_username())[:150] if person is not None else actor_label,
        action=action,
        object_type=str(obj._meta.model_name),
        object_id=str(obj.pk),
        summary=summary[:255],
        changes=changes or {},
    )


def audit_history(obj: models.Model) -> models.QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=obj._meta.model_name, object_id=str(obj.pk)).select_related(
        "actor"
    )


SECRET_CHANGED = "changed"  # noqa: S105 - what the trail says instead of a secret


def _plain(value: Any) -> Any:
    """A value the audit trail can keep as JSON: model instances by pk, times and the rest as text."""
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)


def field_changes(before: dict[str, Any], after: dict[str, Any], *,
                  secret_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """Each field whose value differs, as ``{field: [old, new]}``; a secret only as ``{field: "changed"}``.

    For Options edits (issue 8): take ``before`` from the stored object before the change, ``after`` from the
    values saved, e.g. ``{name: getattr(obj, name) for name in FIELDS}`` both times.
    """
    changed: dict[str, Any] = {}
    for name in after:
        old, new = _plain(before.get(name)), _plain(after[name])
        if old == new:
            continue
        changed[name] = SECRET_CHANGED if name in secret_fields else [old, new]
    return changed
