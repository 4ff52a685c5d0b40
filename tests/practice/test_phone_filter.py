"""Issue 9 item 9: phone numbers are shown in one format everywhere in the UI."""

import pytest
from django.urls import reverse

from practice.models import Location
from practice.templatetags.practice_tags import mobile, phone


@pytest.mark.parametrize(("stored", "shown"), [
    ("0290001234", "(02) 9000 1234"),
    ("02 9000 1234", "(02) 9000 1234"),
    ("+61290001234", "(02) 9000 1234"),
    ("(02) 9000-1234", "(02) 9000 1234"),
    ("1300123456", "1300 123 456"),
    ("0412345678", "0412 345 678"),
    ("+6493001234", "+64 9 300 1234"),
    ("", ""),
    (None, ""),
])
def test_it_prints_a_phone_the_one_way(stored, shown):
    assert phone(stored) == shown


def test_it_shows_a_phone_it_cannot_read_as_it_is():
    assert phone("ask at reception") == "ask at reception"
    assert phone("123") == "123"


def test_it_prints_a_mobile_like_a_phone():
    assert mobile("+61412345678") == phone("+61412345678") == "0412 345 678"


def test_the_locations_page_prints_phones_the_one_way(client, admin_user, practice):
    Location.objects.create(name="North", phone="0290001234")  # stored before the form cleaned phones
    client.force_login(admin_user)
    html = client.get(reverse("options-locations")).content.decode()
    assert "(02) 9000 1234" in html
    assert "0290001234" not in html
