"""Issue 9 item 1: on a phone the day view shows one practitioner's column, chosen with ?practitioner=.

The page marks every other column ``phone-hidden`` (the stylesheet hides them at phone widths only), and the
toolbar's Practitioner switcher names the column shown.
"""

import re

from django.urls import reverse

from tests.scheduling.test_diary import DAY, DIARY_QUERIES, _diary_queries


def _shown(html: str) -> list[str]:
    """The titles of the columns a phone shows."""
    return re.findall(r'<div class="colhead" style="[^"]*"><strong>([^<]+)</strong>', html)


def _selected(html: str) -> str:
    switcher = re.search(r'<select name="practitioner">(.*?)</select>', html, re.S).group(1)
    return re.search(r'<option value="\d+" selected>([^<]+)</option>', switcher).group(1)


def _diary(client, **params) -> str:
    return client.get(reverse("diary"), {"date": DAY.isoformat(), **params}).content.decode()


def test_it_shows_the_first_column_to_the_front_desk(client, front_desk, practitioner_a, practitioner_b):
    client.force_login(front_desk)
    html = _diary(client)
    assert _shown(html) == ["Alice Allen"]
    assert _selected(html) == "Alice Allen"
    assert html.count("phone-hidden") == 2  # Bob's heading and column


def test_it_shows_a_practitioner_their_own_column(client, practitioner_a, practitioner_b):
    client.force_login(practitioner_b.user)
    html = _diary(client)
    assert _shown(html) == ["Bob Brown"]
    assert _selected(html) == "Bob Brown"


def test_the_switcher_chooses_the_column_and_it_is_remembered(client, front_desk, practitioner_a, practitioner_b):
    client.force_login(front_desk)
    assert _shown(_diary(client, practitioner=practitioner_b.pk)) == ["Bob Brown"]
    # Booking, paging a day or reloading comes back to Bob's column.
    assert _shown(_diary(client)) == ["Bob Brown"]
    assert _shown(_diary(client, practitioner=practitioner_a.pk)) == ["Alice Allen"]


def test_a_bad_or_unknown_practitioner_falls_back_to_the_default(client, front_desk, practitioner_a,
                                                                  practitioner_b):
    client.force_login(front_desk)
    for bad in ("abc", "²", "999999", "-1", str(10**30)):
        assert _shown(_diary(client, practitioner=bad)) == ["Alice Allen"], bad


def test_choosing_a_column_costs_no_query(client, front_desk, practitioner_a, practitioner_b):
    client.force_login(front_desk)
    count, html = _diary_queries(client, practitioner=practitioner_b.pk)
    assert _shown(html) == ["Bob Brown"]
    assert count == DIARY_QUERIES


def test_the_week_view_has_no_phone_switcher(client, front_desk, practitioner_a, practitioner_b):
    client.force_login(front_desk)
    html = client.get(reverse("diary-week"), {"date": DAY.isoformat()}).content.decode()
    assert "phone-hidden" not in html
    assert "phone-only" not in html
