"""Options (the Django admin) for practice admins."""

import pytest
from django.db.models import ProtectedError
from django.urls import reverse

from practice.models import AuditEvent, Location
from tests.conftest import sydney


@pytest.mark.parametrize("model", ["practice/practice", "practice/location", "practice/practitioner",
                                   "practice/client", "practice/auditevent", "scheduling/appointmenttype",
                                   "auth/user"])
def test_a_practice_admin_reaches_each_options_page(client, admin_user, practitioner_a, model):
    client.force_login(admin_user)
    assert client.get(f"/options/{model}/").status_code == 200


def test_a_location_in_use_can_be_deactivated_not_deleted(book, practitioner_a, location, admin_user, client):
    book(practitioner_a, sydney(2030, 3, 4, 10))
    with pytest.raises(ProtectedError):
        location.delete()
    client.force_login(admin_user)
    response = client.post(reverse("admin:practice_location_delete", args=[location.pk]), {"post": "yes"})
    assert "Cannot delete" in response.content.decode()
    assert Location.objects.filter(pk=location.pk).exists()


def test_the_audit_trail_is_read_only_in_options(client, admin_user, book, practitioner_a):
    book(practitioner_a, sydney(2030, 3, 4, 10))
    event = AuditEvent.objects.get()
    client.force_login(admin_user)
    page = client.get(reverse("admin:practice_auditevent_change", args=[event.pk])).content.decode()
    assert 'name="summary"' not in page
    client.post(reverse("admin:practice_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_practice_admin_cannot_make_a_superuser(client, admin_user, front_desk):
    client.force_login(admin_user)
    page = client.get(reverse("admin:auth_user_change", args=[front_desk.pk])).content.decode()
    assert 'name="is_superuser"' not in page
    assert 'name="groups"' in page
