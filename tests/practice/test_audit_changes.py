from datetime import time

from practice.audit import field_changes


def test_it_lists_old_and_new_values_of_changed_fields_only():
    assert field_changes({"name": "A", "phone": "1", "opens": time(7)}, {"name": "B", "phone": "1",
                                                                         "opens": time(8)}) == {
        "name": ["A", "B"], "opens": ["07:00:00", "08:00:00"]}


def test_it_never_records_a_secrets_value():
    assert field_changes({"secret": "old"}, {"secret": "new"}, secret_fields=("secret",)) == {"secret": "changed"}
    assert field_changes({"secret": "same"}, {"secret": "same"}, secret_fields=("secret",)) == {}
