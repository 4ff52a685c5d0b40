"""Options: the app's own pages for practice admins, one side menu for every section."""

from django.urls import reverse


def test_it_lists_the_sections_built_so_far_for_a_practice_admin(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("options")).content.decode()
    for label, url_name in (("Zoom", "zoom-connections"), ("Reminder settings", "reminder-settings"),
                            ("Reminder templates", "reminder-templates"), ("SMS credits", "credits")):
        assert label in html and reverse(url_name) in html
    assert 'aria-label="Options"' in html


def test_the_top_bar_takes_admins_to_the_apps_own_options_page(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("diary")).content.decode()
    assert f'href="{reverse("options")}"' in html
    assert 'href="/options/"' in html and "admin:index" not in html


def test_it_is_for_practice_admins_only(client, front_desk, practitioner_a):
    for user in (front_desk, practitioner_a.user):
        client.force_login(user)
        assert client.get(reverse("options")).status_code == 403


def test_an_admin_of_a_new_practice_lands_on_the_setup_checklist(client, db):
    from tests.conftest import PASSWORD, make_user

    admin = make_user("newadmin", "Practice admin")
    response = client.post(reverse("login"), {"username": "newadmin", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("home")
    client.force_login(admin)
    assert client.get(reverse("home")).url == reverse("options-setup")
    html = client.get(reverse("options-setup")).content.decode()
    for title in ("Practice details", "A location", "A practitioner with working hours", "An appointment type",
                  "A front-desk user", "Zoom for telehealth", "SMS"):
        assert title in html
    assert "(optional)" in html
    assert "The practice is ready for bookings" not in html


def test_once_set_up_the_checklist_says_ready_and_login_goes_to_the_diary(
        client, admin_user, practice, practitioner_a, appointment_type, front_desk):
    from practice.models import WorkingHours

    practice.name = "Harbourside Physio"
    practice.save()
    WorkingHours.objects.get_or_create(practitioner=practitioner_a, weekday=0, defaults={
        "starts_at": "09:00", "ends_at": "17:00", "location": practitioner_a.default_location})
    client.force_login(admin_user)
    assert "The practice is ready for bookings" in client.get(reverse("options-setup")).content.decode()
    assert client.get(reverse("home")).url == reverse("diary")


def test_front_desk_always_lands_on_the_diary(client, front_desk):
    client.force_login(front_desk)
    assert client.get(reverse("home")).url == reverse("diary")
