"""RELIABILITY.md 1–2: twenty front desks book the same slot at once; exactly one wins.

Runs against whichever database DATABASE_URL names: PostgreSQL in CI (the exclusion constraint),
SQLite by default (IMMEDIATE transactions plus the service's check).
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.urls import reverse

from practice.errors import ApplicationError
from scheduling.models import Appointment, Status
from scheduling.services import appointment_book, appointment_move
from tests.conftest import sydney

SLOT = sydney(2030, 3, 4, 10)
THREADS = 20


def _race(work, threads: int = THREADS) -> tuple[list, list, list]:
    """Run ``work(n)`` in ``threads`` threads released together; collect results, conflicts and other errors."""
    barrier = threading.Barrier(threads)
    created, conflicts, other = [], [], []

    def run(n: int) -> None:
        try:
            barrier.wait()
            created.append(work(n))
        except ApplicationError as exc:
            conflicts.append(exc)
        except Exception as exc:  # noqa: BLE001 - any other failure is what the test looks for
            other.append(exc)
        finally:
            connections.close_all()

    racers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    return created, conflicts, other


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_bookings_of_one_slot_create_exactly_one(front_desk, practitioner_a, location,
                                                                    appointment_type, client_record):
    created, conflicts, other = _race(lambda n: appointment_book(
        actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
        appointment_type=appointment_type, starts_at=SLOT + timedelta(minutes=n % 3 * 5),
    ))
    assert other == [], f"unexpected errors on {connection.vendor}: {other!r}"
    assert len(created) == 1
    assert len(conflicts) == THREADS - 1
    assert all(exc.code == "conflict" for exc in conflicts)
    assert all("Choose another time" in exc.message for exc in conflicts)
    assert Appointment.objects.exclude(status=Status.CANCELLED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_into_one_free_slot_let_one_through(front_desk, practitioner_a, practitioner_b, location,
                                                             appointment_type, client_record):
    # Twenty appointments on other days all try to move into the same free slot.
    appointments = [
        appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                         appointment_type=appointment_type, starts_at=SLOT + timedelta(days=n + 1)).appointment
        for n in range(THREADS)
    ]
    created, conflicts, other = _race(lambda n: appointment_move(
        actor=front_desk, appointment=appointments[n], starts_at=SLOT, ends_at=SLOT + timedelta(minutes=30),
        practitioner=practitioner_b, location=location,
    ))
    assert other == [], f"unexpected errors on {connection.vendor}: {other!r}"
    assert len(created) == 1
    assert len(conflicts) == THREADS - 1
    assert Appointment.objects.filter(practitioner=practitioner_b).count() == 1


@pytest.mark.django_db
def test_postgres_refuses_an_overlap_even_past_the_service(practitioner_a, location, appointment_type,
                                                          client_record):
    """The database itself holds the rule on PostgreSQL: a raw insert that skips the service fails."""
    if connection.vendor != "postgresql":
        pytest.skip("The exclusion constraint exists on PostgreSQL only.")
    from django.db import IntegrityError, transaction

    fields = {"client": client_record, "practitioner": practitioner_a, "location": location,
              "appointment_type": appointment_type}
    Appointment.objects.create(starts_at=SLOT, ends_at=SLOT + timedelta(minutes=30), **fields)
    Appointment.objects.create(starts_at=SLOT + timedelta(minutes=30), ends_at=SLOT + timedelta(minutes=60),
                               **fields)  # back to back is fine
    Appointment.objects.create(starts_at=SLOT, ends_at=SLOT + timedelta(minutes=30), status=Status.CANCELLED,
                               **fields)  # cancelled ones don't count
    with pytest.raises(IntegrityError, match="appointment_no_overlap"), transaction.atomic():
        Appointment.objects.create(starts_at=SLOT + timedelta(minutes=10), ends_at=SLOT + timedelta(minutes=20),
                                   **fields)


ROUNDS = 100
RACERS = 8


@pytest.mark.django_db(transaction=True)
def test_many_rounds_of_same_slot_races_each_book_exactly_one_and_never_error(front_desk, practitioner_a, location,
                                                                              appointment_type, client_record):
    """RELIABILITY.md 24: on PostgreSQL, racing inserts can deadlock inside the exclusion constraint's check;
    every loser must still get the conflict message."""
    unexpected = []
    for round_number in range(ROUNDS):
        slot = SLOT + timedelta(days=round_number)
        created, conflicts, other = _race(lambda n, slot=slot: appointment_book(
            actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
            appointment_type=appointment_type, starts_at=slot + timedelta(minutes=n % 4 * 5)), RACERS)
        unexpected.extend(other)
        assert len(created) == 1, f"round {round_number}: {len(created)} bookings, errors {other!r}"
        assert [exc.code for exc in conflicts] == ["conflict"] * (RACERS - 1), f"round {round_number}: {other!r}"
    assert unexpected == [], f"unexpected errors on {connection.vendor}: {unexpected!r}"
    assert Appointment.objects.count() == ROUNDS


def _deadlock(*args, **kwargs):
    """What Django raises when PostgreSQL aborts a transaction to break a deadlock."""
    import psycopg
    from django.db import OperationalError

    try:
        raise psycopg.errors.DeadlockDetected("deadlock detected while checking exclusion constraint")
    except psycopg.Error as exc:
        raise OperationalError(str(exc)) from exc


@pytest.mark.django_db
def test_a_deadlock_on_save_is_the_conflict_message_for_a_booking_and_a_move(
        monkeypatch, client, front_desk, practitioner_a, location, appointment_type, client_record, book):
    existing = book(practitioner_a, SLOT + timedelta(days=1))
    monkeypatch.setattr(Appointment, "save", _deadlock)
    with pytest.raises(ApplicationError) as refused:
        book(practitioner_a, SLOT)
    assert refused.value.code == "conflict"
    with pytest.raises(ApplicationError) as refused:
        appointment_move(actor=front_desk, appointment=existing, starts_at=SLOT, ends_at=SLOT + timedelta(minutes=30),
                         practitioner=practitioner_a, location=location)
    assert refused.value.code == "conflict"
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"), {
        "client": client_record.pk, "practitioner": practitioner_a.pk, "date": "2030-03-04", "start_time": "10:00",
        "appointment_type": appointment_type.pk, "location": location.pk,
    })
    assert response.status_code == 200
    assert "was booked at that time by someone else a moment ago" in response.content.decode()


@pytest.mark.django_db
def test_other_database_errors_are_not_disguised_as_conflicts(monkeypatch, practitioner_a, book):
    from django.db import OperationalError

    def disk_full(*args, **kwargs):
        raise OperationalError("could not extend file: No space left on device")

    monkeypatch.setattr(Appointment, "save", disk_full)
    with pytest.raises(OperationalError):
        book(practitioner_a, SLOT)


HTTP_ROUNDS = 25


@pytest.mark.django_db(transaction=True)
def test_same_slot_races_over_http_give_one_booking_and_conflict_forms_never_a_500(
        front_desk, practitioner_a, location, appointment_type, client_record):
    """The whole request path (session, audit, booking) raced by 8 front desks, round after round."""
    from django.test import Client as HttpClient

    desks = []
    for _ in range(RACERS):
        desk = HttpClient()
        desk.force_login(front_desk)
        desk.raise_request_exception = False
        desks.append(desk)
    url = reverse("appointment-new")
    for round_number in range(HTTP_ROUNDS):
        day = (SLOT + timedelta(days=round_number)).date()

        def post(n: int, day=day) -> tuple[int, bool]:
            response = desks[n].post(url, {
                "client": client_record.pk, "practitioner": practitioner_a.pk, "date": day.isoformat(),
                "start_time": f"10:{n % 4 * 5:02d}", "appointment_type": appointment_type.pk,
                "location": location.pk,
            })
            return response.status_code, "Choose another time" in response.content.decode()

        statuses, _, other = _race(post, RACERS)
        assert other == [], f"round {round_number}: {other!r}"
        assert sorted(statuses) == [(200, True)] * (RACERS - 1) + [(302, False)], f"round {round_number}: {statuses}"
    assert Appointment.objects.count() == HTTP_ROUNDS
