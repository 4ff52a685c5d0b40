from django.contrib.auth.models import User
from django.db import transaction

from practice.audit import audit_record
from practice.models import Client

CLIENT_FIELDS = ("first_name", "last_name", "preferred_name", "date_of_birth", "mobile", "email",
                 "sms_reminders", "email_reminders", "notes")
# Only the names of changed fields reach the audit trail, never the values (contact details stay out).


@transaction.atomic
def client_create(*, actor: User, **fields) -> Client:
    client = Client(**{name: value for name, value in fields.items() if name in CLIENT_FIELDS})
    client.full_clean()
    client.save()
    audit_record(actor=actor, action="client.created", obj=client, summary=f"Client #{client.pk} added")
    return client


@transaction.atomic
def client_update(*, actor: User, client: Client, **fields) -> Client:
    changed = [name for name, value in fields.items() if name in CLIENT_FIELDS and getattr(client, name) != value]
    for name in changed:
        setattr(client, name, fields[name])
    if changed:
        client.full_clean()
        client.save()
        audit_record(actor=actor, action="client.updated", obj=client, summary=f"Client #{client.pk} updated",
                     changes={"fields": changed})
    return client
