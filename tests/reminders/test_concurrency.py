"""Issue 7 item 11: sixteen staff send the same telehealth SMS at once (two panels, different form keys).

Exactly one SMS and one 2-credit debit; the others are told when and by whom it was sent. Runs against
whichever database DATABASE_URL names: on PostgreSQL the unique message key decides between concurrent
transactions; on SQLite IMMEDIATE transactions serialise them.
"""

import threading

import pytest
from django.db import connection, connections

from practice.errors import ApplicationError
from reminders import services
from reminders.models import Channel, CreditEntry, Message

THREADS = 16


def _race(work) -> tuple[list, list, list]:
    barrier = threading.Barrier(THREADS)
    sent, refused, other = [], [], []

    def run() -> None:
        try:
            barrier.wait()
            sent.append(work())
        except ApplicationError as exc:
            refused.append(exc)
        except Exception as exc:  # noqa: BLE001 - any other failure is what the test looks for
            other.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent, refused, other


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_telehealth_sends_send_one_sms(telehealth_appointment, front_desk, credits, sms_outbox):
    sent, refused, other = _race(lambda: services.telehealth_details_send(
        actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS))
    assert other == [], f"unexpected errors on {connection.vendor}: {other!r}"
    assert len(sent) == 1 and len(refused) == THREADS - 1
    assert all(exc.code == "already_sent" and "by Frontdesk" in exc.message for exc in refused)
    assert Message.objects.count() == 1 and len(sms_outbox) == 1
    assert CreditEntry.objects.filter(reason=CreditEntry.Reason.DEBIT).count() == 1
    assert services.credits_balance() == 98


@pytest.mark.django_db(transaction=True)
def test_sixteen_people_confirming_send_again_send_it_once_more(telehealth_appointment, front_desk, credits,
                                                                sms_outbox):
    first = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                             channel=Channel.SMS)
    sent, refused, other = _race(lambda: services.telehealth_details_send(
        actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS, again_after=first.pk))
    assert other == [], f"unexpected errors on {connection.vendor}: {other!r}"
    assert len(sent) == 1 and len(refused) == THREADS - 1
    assert Message.objects.count() == 2 and len(sms_outbox) == 2 and services.credits_balance() == 96
