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
) -> AuditEvent:
    """Append one event to the audit trail. Callers keep patient contact details out of ``changes``."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
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
