"""Issue 8.3: the audit trail is append-only whatever the path, and keeps who acted."""

import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError

from practice.audit import audit_record
from practice.models import AppendOnly, AuditEvent


@pytest.fixture
def event(front_desk, practice):
    return audit_record(actor=front_desk, action="practice.changed", obj=practice, summary="Name changed")


def test_it_keeps_the_actors_name_on_the_event(event, front_desk):
    assert event.actor_name == front_desk.get_full_name()


def test_no_orm_path_changes_or_removes_an_event(event):
    event.summary = "rewritten"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(summary="rewritten")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.bulk_update([event], ["summary"])
    assert AuditEvent.objects.get(pk=event.pk).summary == "Name changed"


def test_a_user_who_acted_cannot_be_deleted_so_the_trail_keeps_them(event, front_desk):
    with pytest.raises(ProtectedError):
        front_desk.delete()
    assert AuditEvent.objects.get(pk=event.pk).actor == front_desk


def test_postgresql_refuses_even_raw_sql(event):
    if connection.vendor != "postgresql":
        pytest.skip("The database trigger is PostgreSQL's.")
    from django.db import DatabaseError

    for sql in ("UPDATE practice_auditevent SET summary = 'x'", "DELETE FROM practice_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).summary == "Name changed"
