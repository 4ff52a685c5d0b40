"""Options → Audit trail: read-only, filtered by who, what, object and date (practice admins only)."""

from typing import Any

from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from practice import roles
from practice.audit import SECRET_CHANGED
from practice.forms_audit import SYSTEM, AuditFilterForm
from practice.http import AuthedRequest, role_required
from practice.models import AuditEvent
from practice.timezones import day_bounds

admin_only = role_required(roles.is_practice_admin)
PER_PAGE = 50


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def change_rows(changes: Any) -> list[dict[str, str]]:
    """``{field: [old, new]}`` as rows; a secret as "changed"; any older shape of ``changes`` as plain text."""
    if not isinstance(changes, dict):
        return [{"field": "", "new": _shown(changes)}] if changes else []
    rows = []
    for name, value in changes.items():
        if value == SECRET_CHANGED:
            rows.append({"field": str(name), "secret": "changed"})
        elif isinstance(value, list) and len(value) == 2:
            rows.append({"field": str(name), "old": _shown(value[0]), "new": _shown(value[1])})
        else:
            rows.append({"field": str(name), "new": _shown(value)})
    return rows


def _filtered(form: AuditFilterForm, request: AuthedRequest):
    events = AuditEvent.objects.select_related("actor").order_by("-at", "-pk")
    data = form.cleaned_data
    if data["actor"] == SYSTEM:
        events = events.filter(actor__isnull=True)
    elif data["actor"]:
        events = events.filter(actor_id=int(data["actor"]))  # one of the offered users' ids
    if data["action"]:
        events = events.filter(action=data["action"])
    if data["object_type"]:
        events = events.filter(object_type=data["object_type"])
    if data["object_id"]:
        events = events.filter(object_id=data["object_id"])
    # Whole days in the practice's zone, so "from 4 March" means from local midnight.
    if data["date_from"]:
        events = events.filter(at__gte=day_bounds(data["date_from"], request.practice.zone)[0])
    if data["date_to"]:
        events = events.filter(at__lt=day_bounds(data["date_to"], request.practice.zone)[1])
    return events


@require_GET
@admin_only
def options_audit(request: AuthedRequest) -> HttpResponse:
    actors = [(user.pk, user.get_full_name() or user.username)
              for user in User.objects.only("pk", "first_name", "last_name", "username").order_by(
                  "first_name", "last_name", "username")]
    kinds = list(AuditEvent.objects.order_by().values_list("object_type", "action").distinct())
    form = AuditFilterForm(request.GET, actors=actors, actions=sorted({action for _, action in kinds}),
                           object_types=sorted({object_type for object_type, _ in kinds}))
    events = _filtered(form, request) if form.is_valid() else AuditEvent.objects.none()
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"event": event, "changes": change_rows(event.changes)} for event in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "practice/options_audit.html", {
        "form": form, "page": page, "rows": rows, "query": query.urlencode(), "title": "Audit trail"})
