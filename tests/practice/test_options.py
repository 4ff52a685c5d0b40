"""Options are the app's own pages; the stock Django admin is at /django-admin/ for superusers only (issue 8)."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import ProtectedError
from django.urls import URLPattern, URLResolver, reverse

from practice import roles, users
from practice.errors import ApplicationError
from practice.models import AuditEvent, Location
from tests.conftest import sydney


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "Root-account-password-1")


# Values for the admin's URL arguments; anything else is "1", an id that need not exist (a 404 is also fine).
ARGUMENTS = {"app_label": "practice", "url": "no/such/page/"}


def _admin_urls(patterns=None, prefix="admin:") -> list[str]:
    """Every URL pattern of the stock admin (each model's list, add, change, delete, history, the index, login,
    logout, password change, app lists, autocomplete, view-on-site, the catch-all), with arguments filled in."""
    found = []
    for entry in admin.site.get_urls() if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            found += _admin_urls(entry.url_patterns, prefix)
        elif isinstance(entry, URLPattern):
            groups = list(entry.pattern.regex.groupindex)
            kwargs = {name: ARGUMENTS.get(name, "1") for name in groups}
            if entry.name:
                found.append(reverse(prefix + entry.name, kwargs=kwargs))
            else:
                found.append("/django-admin/" + ARGUMENTS["url"])
    return sorted(set(found))


def test_the_walk_covers_the_whole_admin():
    urls = _admin_urls()
    assert len(urls) > 60 and all(url.startswith("/django-admin/") for url in urls)
    for expected in ("/django-admin/", "/django-admin/login/", "/django-admin/auth/user/1/password/",
                     "/django-admin/practice/auditevent/", "/django-admin/practice/"):
        assert expected in urls


@pytest.mark.parametrize("persona", ["admin_user", "front_desk", "practitioner_a"])
def test_no_url_of_the_stock_admin_answers_a_practice_user(client, request, persona):
    person = request.getfixturevalue(persona)
    client.force_login(getattr(person, "user", person))
    for url in _admin_urls():
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"post": "yes"}).status_code == 403, url


def test_a_practice_admin_cannot_set_a_superusers_password_through_the_admin(client, admin_user, superuser):
    """The attack of issue 8: POST /options/auth/user/<id>/password/, then log in as the superuser."""
    client.force_login(admin_user)
    url = reverse("admin:auth_user_password_change", args=[superuser.pk])
    response = client.post(url, {"password1": "Taken-over-2031!", "password2": "Taken-over-2031!",
                                 "usable_password": "true"})
    assert response.status_code == 403
    assert not User.objects.get(pk=superuser.pk).check_password("Taken-over-2031!")


def test_a_visitor_is_sent_to_the_apps_login(client):
    for url in ("/django-admin/", "/django-admin/login/", "/django-admin/practice/client/"):
        response = client.get(url, follow=True)  # through the admin's login, which hands over to the app's
        assert response.redirect_chain[-1][0].startswith(reverse("login")), url
        assert response.resolver_match.url_name == "login"


def test_a_superuser_still_has_the_stock_admin(client, superuser):
    client.force_login(superuser)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:practice_auditevent_changelist")).status_code == 200
    assert client.get(reverse("admin:login")).status_code == 302  # already signed in: to the index


def test_our_own_options_page_comes_before_the_admin(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/options/")
    assert response.status_code == 200 and response.resolver_match.url_name == "options"
    assert "/django-admin/" not in response.content.decode()


def test_a_location_in_use_can_be_deactivated_not_deleted(book, practitioner_a, location, admin_user, client):
    book(practitioner_a, sydney(2030, 3, 4, 10))
    with pytest.raises(ProtectedError):
        location.delete()
    # The admin's delete page was the only way a practice admin could try; it is closed to them now.
    client.force_login(admin_user)
    response = client.post(reverse("admin:practice_location_delete", args=[location.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Location.objects.filter(pk=location.pk).exists()


def test_the_audit_trail_is_read_only_in_options(client, admin_user, book, practitioner_a):
    book(practitioner_a, sydney(2030, 3, 4, 10))
    event = AuditEvent.objects.get()
    client.force_login(admin_user)
    page = client.get(reverse("options-audit")).content.decode()
    assert event.action in page
    assert 'name="summary"' not in page
    assert client.post(reverse("options-audit"), {"summary": "rewritten"}).status_code == 405
    assert client.post(reverse("admin:practice_auditevent_delete", args=[event.pk]), {"post": "yes"}
                       ).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).summary == event.summary


def test_a_practice_admin_cannot_make_a_superuser(client, admin_user, front_desk):
    client.force_login(admin_user)
    page = client.get(reverse("options-user-edit", args=[front_desk.pk])).content.decode()
    assert 'name="is_superuser"' not in page
    assert 'name="role"' in page
    client.post(reverse("options-user-edit", args=[front_desk.pk]), {
        "first_name": "Frontdesk", "last_name": "", "email": "", "role": roles.PRACTICE_ADMIN,
        "is_superuser": "on"})
    promoted = User.objects.get(pk=front_desk.pk)
    assert not promoted.is_superuser and users.user_role(promoted) == roles.PRACTICE_ADMIN
    with pytest.raises(ApplicationError):
        users.user_update(actor=admin_user, user=front_desk, first_name="F", last_name="", email="",
                          role="superuser")
