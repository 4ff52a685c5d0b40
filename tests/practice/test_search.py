import pytest

from practice.models import Client
from practice.selectors import client_search


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["Kelly, Liam", "Liam Kelly", "kel li", "+61 410 000 023", "0410000023",
                                   "0410 000 023"])
def test_client_search_formats(query: str) -> None:
    client = Client.objects.create(first_name="Liam", last_name="Kelly", mobile="+61410000023")
    assert list(client_search(query)) == [client]
