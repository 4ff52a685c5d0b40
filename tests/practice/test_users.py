"""Options → Users and roles (issue 8): one role each, deactivated never deleted, passwords through the validators,
superusers out of a practice admin's reach, the last practice admin kept; one audit event per change."""

import pytest
from django.contrib.auth.models import User
from django.test import Client as HttpClient
from django.urls import reverse

from practice import roles, users
from practice.errors import ApplicationError
from practice.models import AuditEvent
from tests.conftest import PASSWORD, make_user

GOOD_PASSWORD = "Harbour-lights-2031"


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "Root-account-password-1")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _can_log_in(username: str, password: str) -> bool:
    """Through the login page: axes wants a request, so Client.login() cannot be used."""
    return HttpClient().post(reverse("login"), {"username": username, "password": password}).status_code == 302


def _state(user: User) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (user.first_name, user.last_name, user.email, user.is_active, user.is_superuser, user.password,
            sorted(user.groups.values_list("name", flat=True)))


# --- the services ------------------------------------------------------------------------------------------------


def test_it_creates_a_user_with_one_role_and_one_audit_event(admin_user):
    created = users.user_create(actor=admin_user, username="sam", first_name="Sam", last_name="Lee",
                                email="sam@example.com", role=roles.FRONT_DESK, password=GOOD_PASSWORD)
    assert list(created.groups.values_list("name", flat=True)) == [roles.FRONT_DESK]
    assert created.check_password(GOOD_PASSWORD) and not created.is_superuser and not created.is_staff
    event = AuditEvent.objects.get()
    assert (event.action, event.object_type, event.object_id) == ("user.created", "user", str(created.pk))
    assert event.actor == admin_user and event.actor_name == admin_user.get_full_name()
    assert event.changes["username"] == [None, "sam"]
    assert event.changes["role"] == [None, roles.FRONT_DESK]
    assert event.changes["password"] == "changed"
    assert GOOD_PASSWORD not in str(event.changes) and created.password not in str(event.changes)


@pytest.mark.parametrize("password", ["short-1", "password1234", "123456789012345", "sam.lee.example"])
def test_the_password_validators_apply_on_create(admin_user, password):
    with pytest.raises(ApplicationError) as refused:
        users.user_create(actor=admin_user, username="sam", first_name="Sam", last_name="Lee",
                          email="sam.lee@example.com", role=roles.FRONT_DESK, password=password)
    assert refused.value.extra["errors"]["password"]
    assert not User.objects.filter(username="sam").exists() and not AuditEvent.objects.exists()


def test_a_username_is_taken_whatever_its_capitals(admin_user, front_desk):
    with pytest.raises(ApplicationError, match="taken"):
        users.user_create(actor=admin_user, username="FrontDesk", first_name="F", last_name="", email="",
                          role=roles.FRONT_DESK, password=GOOD_PASSWORD)


def test_only_a_practice_admin_manages_users(front_desk):
    with pytest.raises(ApplicationError, match="Only a practice admin"):
        users.user_create(actor=front_desk, username="sam", first_name="Sam", last_name="", email="",
                          role=roles.PRACTICE_ADMIN, password=GOOD_PASSWORD)


def test_a_role_not_offered_is_refused(admin_user, front_desk):
    with pytest.raises(ApplicationError, match="Choose one of the roles"):
        users.user_update(actor=admin_user, user=front_desk, first_name="F", last_name="", email="",
                          role="Superuser")
    assert list(front_desk.groups.values_list("name", flat=True)) == [roles.FRONT_DESK]


def test_an_edit_is_one_event_with_its_field_changes(admin_user, front_desk):
    users.user_update(actor=admin_user, user=front_desk, first_name="Fran", last_name="Desk",
                      email="fran@example.com", role=roles.PRACTITIONER)
    event = AuditEvent.objects.get()
    assert event.action == "user.changed"
    assert event.changes == {"first_name": ["Frontdesk", "Fran"], "last_name": ["", "Desk"],
                             "email": ["", "fran@example.com"], "role": [roles.FRONT_DESK, roles.PRACTITIONER]}
    assert list(User.objects.get(pk=front_desk.pk).groups.values_list("name", flat=True)) == [roles.PRACTITIONER]


def test_an_unchanged_save_is_no_event(admin_user, front_desk):
    users.user_update(actor=admin_user, user=front_desk, first_name="Frontdesk", last_name="", email="",
                      role=roles.FRONT_DESK)
    assert not AuditEvent.objects.exists()


def test_deactivating_and_reactivating_are_one_event_each_and_never_delete(admin_user, front_desk):
    users.user_set_active(actor=admin_user, user=front_desk, is_active=False)
    users.user_set_active(actor=admin_user, user=front_desk, is_active=True)
    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.action for e in events] == ["user.deactivated", "user.reactivated"]
    assert events[0].changes == {"is_active": [True, False]} and events[1].changes == {"is_active": [False, True]}
    assert User.objects.get(pk=front_desk.pk).is_active


def test_a_deactivated_user_cannot_log_in(admin_user, front_desk):
    users.user_set_active(actor=admin_user, user=front_desk, is_active=False)
    assert not _can_log_in("frontdesk", PASSWORD)


def test_a_user_cannot_deactivate_themselves(admin_user):
    make_user("other-admin", roles.PRACTICE_ADMIN)
    with pytest.raises(ApplicationError, match="cannot deactivate yourself"):
        users.user_set_active(actor=admin_user, user=admin_user, is_active=False)
    assert User.objects.get(pk=admin_user.pk).is_active and not AuditEvent.objects.exists()


def test_a_user_cannot_change_their_own_role(admin_user):
    make_user("other-admin", roles.PRACTICE_ADMIN)
    with pytest.raises(ApplicationError, match="your own role"):
        users.user_update(actor=admin_user, user=admin_user, first_name="A", last_name="", email="",
                          role=roles.FRONT_DESK)
    assert roles.PRACTICE_ADMIN in User.objects.get(pk=admin_user.pk).groups.values_list("name", flat=True)


def test_the_password_is_set_through_the_validators_and_audited_as_changed(admin_user, front_desk):
    with pytest.raises(ApplicationError):
        users.user_set_password(actor=admin_user, user=front_desk, password="short")
    users.user_set_password(actor=admin_user, user=front_desk, password=GOOD_PASSWORD)
    assert User.objects.get(pk=front_desk.pk).check_password(GOOD_PASSWORD)
    event = AuditEvent.objects.get()
    assert (event.action, event.changes) == ("user.password_set", {"password": "changed"})


# --- superusers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    lambda actor, target: users.user_update(actor=actor, user=target, first_name="Owned", last_name="",
                                            email="", role=roles.FRONT_DESK),
    lambda actor, target: users.user_set_active(actor=actor, user=target, is_active=False),
    lambda actor, target: users.user_set_password(actor=actor, user=target, password=GOOD_PASSWORD),
], ids=["update", "deactivate", "password"])
def test_a_practice_admin_can_never_touch_a_superuser(admin_user, superuser, change):
    before = _state(superuser)
    with pytest.raises(ApplicationError, match="superuser"):
        change(admin_user, superuser)
    assert _state(superuser) == before and not AuditEvent.objects.exists()


def test_a_superuser_may_change_a_superuser(superuser):
    other = User.objects.create_superuser("root2", "", "Another-root-password-9")
    users.user_set_password(actor=superuser, user=other, password=GOOD_PASSWORD)
    assert User.objects.get(pk=other.pk).check_password(GOOD_PASSWORD)


@pytest.mark.parametrize(("url_name", "data"), [
    ("options-user-edit", {"first_name": "Owned", "last_name": "", "email": "x@example.com",
                           "role": roles.FRONT_DESK}),
    ("options-user-edit", {"first_name": "Root", "last_name": "", "email": "root@example.com",
                           "role": roles.PRACTICE_ADMIN}),
    ("options-user-active", {"active": "0"}),
    ("options-user-password", {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}),
])
def test_posts_against_a_superuser_are_refused_and_change_nothing(admin_client, superuser, url_name, data):
    before = _state(superuser)
    response = admin_client.post(reverse(url_name, args=[superuser.pk]), data, follow=True)
    assert response.status_code == 200
    assert "superuser" in response.content.decode()
    assert _state(superuser) == before and not AuditEvent.objects.exists()
    assert not _can_log_in("root", GOOD_PASSWORD)


def test_the_list_offers_no_action_on_a_superuser(admin_client, superuser):
    html = admin_client.get(reverse("options-users")).content.decode()
    assert reverse("options-user-edit", args=[superuser.pk]) not in html
    assert reverse("options-user-password", args=[superuser.pk]) not in html
    assert "Only a superuser can change this account" in html


def test_no_form_hands_out_the_superuser_flag(admin_client, front_desk):
    for url in (reverse("options-user-new"), reverse("options-user-edit", args=[front_desk.pk])):
        html = admin_client.get(url).content.decode()
        assert "is_superuser" not in html and "is_staff" not in html
    admin_client.post(reverse("options-user-edit", args=[front_desk.pk]), {
        "first_name": "F", "last_name": "", "email": "", "role": roles.FRONT_DESK, "is_superuser": "on",
        "is_staff": "on"})
    assert not User.objects.get(pk=front_desk.pk).is_superuser
    assert not User.objects.get(pk=front_desk.pk).is_staff


# --- the last practice admin ----------------------------------------------------------------------------------------


def test_the_last_practice_admin_cannot_be_demoted(superuser, admin_user):
    # Even by a superuser: without a practice admin nobody in the practice reaches Options.
    with pytest.raises(ApplicationError, match="last active practice admin"):
        users.user_update(actor=superuser, user=admin_user, first_name="A", last_name="", email="",
                          role=roles.FRONT_DESK)
    assert roles.PRACTICE_ADMIN in User.objects.get(pk=admin_user.pk).groups.values_list("name", flat=True)


def test_the_last_practice_admin_cannot_be_deactivated(superuser, admin_user):
    with pytest.raises(ApplicationError, match="last active practice admin"):
        users.user_set_active(actor=superuser, user=admin_user, is_active=False)
    assert User.objects.get(pk=admin_user.pk).is_active


def test_an_inactive_admin_does_not_count(superuser, admin_user):
    other = make_user("other-admin", roles.PRACTICE_ADMIN)
    other.is_active = False
    other.save()
    with pytest.raises(ApplicationError, match="last active practice admin"):
        users.user_set_active(actor=superuser, user=admin_user, is_active=False)


def test_with_another_admin_one_can_be_demoted(admin_user):
    other = make_user("other-admin", roles.PRACTICE_ADMIN)
    users.user_update(actor=admin_user, user=other, first_name="Other", last_name="", email="",
                      role=roles.PRACTITIONER)
    with pytest.raises(ApplicationError, match="last active practice admin"):
        users.user_set_active(actor=User.objects.create_superuser("root", "", "x"), user=admin_user,
                              is_active=False)


def test_removing_the_last_admin_shows_the_reason_on_the_page(client, superuser, admin_user):
    client.force_login(superuser)
    response = client.post(reverse("options-user-active", args=[admin_user.pk]), {"active": "0"}, follow=True)
    assert "last active practice admin" in response.content.decode()
    response = client.post(reverse("options-user-edit", args=[admin_user.pk]), {
        "first_name": "Admin", "last_name": "", "email": "", "role": roles.FRONT_DESK})
    assert response.status_code == 200 and "last active practice admin" in response.content.decode()
    assert User.objects.get(pk=admin_user.pk).is_active and not AuditEvent.objects.exists()


# --- the pages ------------------------------------------------------------------------------------------------------


def test_the_list_shows_each_user_with_role_and_status(admin_client, admin_user, front_desk, practitioner_a,
                                                       django_assert_max_num_queries):
    with django_assert_max_num_queries(14):  # the session, the practice, the top bar's counts, users, groups
        html = admin_client.get(reverse("options-users")).content.decode()
    for text in ("frontdesk", "alice", roles.FRONT_DESK, roles.PRACTITIONER, roles.PRACTICE_ADMIN, "Never"):
        assert text in html
    assert "<title>Users and roles" in html


def test_the_list_query_count_does_not_grow_with_users(admin_client, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin_client.get(reverse("options-users"))  # the first request of a session does more (session, caches)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse("options-users"))
    for n in range(10):
        make_user(f"user{n}", roles.FRONT_DESK)
    with django_assert_num_queries(len(few.captured_queries)):
        admin_client.get(reverse("options-users"))


def test_adding_a_user_on_the_page(admin_client):
    response = admin_client.post(reverse("options-user-new"), {
        "username": "sam", "first_name": "Sam", "last_name": "Lee", "email": "sam@example.com",
        "role": roles.PRACTITIONER, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 302 and response.url == reverse("options-users")
    sam = User.objects.get(username="sam")
    assert list(sam.groups.values_list("name", flat=True)) == [roles.PRACTITIONER]
    assert AuditEvent.objects.get().action == "user.created"


def test_a_weak_password_on_the_page_is_a_form_error_never_shown_back(admin_client):
    response = admin_client.post(reverse("options-user-new"), {
        "username": "sam", "first_name": "Sam", "last_name": "Lee", "email": "", "role": roles.FRONT_DESK,
        "password1": "Sunshine-1", "password2": "Sunshine-1"})
    html = response.content.decode()
    assert response.status_code == 200 and "too short" in html
    assert "Sunshine-1" not in html and not User.objects.filter(username="sam").exists()


def test_two_different_passwords_are_a_form_error(admin_client, front_desk):
    response = admin_client.post(reverse("options-user-password", args=[front_desk.pk]), {
        "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD + "x"})
    assert "The two passwords differ" in response.content.decode()
    assert User.objects.get(pk=front_desk.pk).check_password(PASSWORD)


def test_setting_a_password_on_the_page(admin_client, front_desk):
    response = admin_client.post(reverse("options-user-password", args=[front_desk.pk]), {
        "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}, follow=True)
    assert GOOD_PASSWORD not in response.content.decode()
    assert _can_log_in("frontdesk", GOOD_PASSWORD)


def test_setting_my_own_password_keeps_me_signed_in(admin_client, admin_user):
    admin_client.post(reverse("options-user-password", args=[admin_user.pk]), {
        "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert admin_client.get(reverse("options-users")).status_code == 200


def test_my_own_role_is_not_offered_for_change(admin_client, admin_user):
    html = admin_client.get(reverse("options-user-edit", args=[admin_user.pk])).content.decode()
    assert "Another practice admin can change your role" in html
    admin_client.post(reverse("options-user-edit", args=[admin_user.pk]), {
        "first_name": "Ada", "last_name": "", "email": "", "role": roles.FRONT_DESK})
    me = User.objects.get(pk=admin_user.pk)
    assert me.first_name == "Ada" and roles.PRACTICE_ADMIN in me.groups.values_list("name", flat=True)


def test_deactivating_on_the_page(admin_client, front_desk):
    response = admin_client.post(reverse("options-user-active", args=[front_desk.pk]), {"active": "0"},
                                 follow=True)
    assert "deactivated" in response.content.decode()
    assert not User.objects.get(pk=front_desk.pk).is_active


@pytest.mark.parametrize("who", ["front_desk", "practitioner_a"])
def test_other_roles_are_refused(client, request, who, admin_user):
    user = request.getfixturevalue(who)
    client.force_login(getattr(user, "user", user))
    for url in (reverse("options-users"), reverse("options-user-new"),
                reverse("options-user-edit", args=[admin_user.pk]),
                reverse("options-user-password", args=[admin_user.pk])):
        assert client.get(url).status_code == 403
    assert client.post(reverse("options-user-active", args=[admin_user.pk]), {"active": "0"}).status_code == 403
    assert User.objects.get(pk=admin_user.pk).is_active


def test_an_unknown_or_huge_user_id_is_a_404(admin_client):
    assert admin_client.get("/options/users/99999999999999999999/").status_code == 404
    assert admin_client.post("/options/users/99999999999999999999/active/", {"active": "0"}).status_code == 404


def test_posts_need_a_csrf_token(admin_user, front_desk):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    assert browser.post(reverse("options-user-active", args=[front_desk.pk]), {"active": "0"}).status_code == 403
    assert User.objects.get(pk=front_desk.pk).is_active


# --- hostile input ---------------------------------------------------------------------------------------------------

HOSTILE = ["\x00", "x" * 10_000, "😀👩🏽‍⚕️", "\u202eevil", "عيادة", "line1\r\nline2", "9" * 30, "-1", "1e309",
           "<script>alert(1)</script>"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["username", "first_name", "last_name", "email", "role", "password1",
                                   "password2"])
def test_hostile_input_to_the_new_user_form(admin_client, field, value):
    data = {"username": "sam", "first_name": "Sam", "last_name": "Lee", "email": "sam@example.com",
            "role": roles.FRONT_DESK, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    data[field] = value
    response = admin_client.post(reverse("options-user-new"), data)
    assert response.status_code in (200, 302)
    for user in User.objects.exclude(username="admin"):
        user.full_clean()
        users.validate_person_text(user.username + user.first_name + user.last_name + user.email)
        assert user.groups.count() == 1
    if field == "username" and value not in ("عيادة", "9" * 30, "-1", "1e309"):  # those are usernames
        assert response.status_code == 200 and not User.objects.exclude(username="admin").exists()


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["first_name", "last_name", "email", "role"])
def test_hostile_input_to_the_edit_form(admin_client, front_desk, field, value):
    data = {"first_name": "Fran", "last_name": "Desk", "email": "fran@example.com", "role": roles.FRONT_DESK}
    data[field] = value
    response = admin_client.post(reverse("options-user-edit", args=[front_desk.pk]), data)
    assert response.status_code in (200, 302)
    stored = User.objects.get(pk=front_desk.pk)
    stored.full_clean()
    users.validate_person_text(stored.first_name + stored.last_name + stored.email)
    assert list(stored.groups.values_list("name", flat=True)) in ([roles.FRONT_DESK],)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_input_to_the_password_and_active_forms(admin_client, front_desk, value):
    response = admin_client.post(reverse("options-user-password", args=[front_desk.pk]),
                                 {"password1": value, "password2": value})
    assert response.status_code in (200, 302)
    response = admin_client.post(reverse("options-user-active", args=[front_desk.pk]), {"active": value})
    assert response.status_code == 302
    stored = User.objects.get(pk=front_desk.pk)
    assert stored.is_active  # only "0" deactivates
    if "\x00" in value or len(value) > 128:
        assert stored.check_password(PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(monkeypatch):
    """Both checks would pass alone; the lock on the role makes the second one see the first."""
    import threading
    import time

    from django.db import connection

    counted = users._other_active_admins

    def slow_count(user: User) -> bool:  # widen the window between the check and the write
        found = counted(user)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(users, "_other_active_admins", slow_count)
    first, second = make_user("first", roles.PRACTICE_ADMIN), make_user("second", roles.PRACTICE_ADMIN)
    start, results = threading.Barrier(2), []

    def demote(actor: User, target: User) -> None:
        try:
            start.wait()
            users.user_update(actor=actor, user=target, first_name=target.first_name, last_name="", email="",
                              role=roles.FRONT_DESK)
            results.append("done")
        except ApplicationError as refused:
            results.append(refused.code)
        except Exception as failed:  # noqa: BLE001 - a thread's error must reach the assertion below
            results.append(repr(failed))
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results.count("done") == 1, results
    assert set(results) - {"done"} <= {"last_admin", "not_admin"}, results
    assert User.objects.filter(is_active=True, groups__name=roles.PRACTICE_ADMIN).count() == 1
    assert AuditEvent.objects.count() == 1
