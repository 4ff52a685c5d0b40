from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError


def local_to_aware(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The practice-local wall-clock time as an aware datetime.

    A time skipped when clocks go forward (e.g. 02:30 on the first Sunday of October in Sydney)
    is refused; a time that happens twice when clocks go back takes its first, daylight-saving
    occurrence.
    """
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValidationError(
            f"{at:%H:%M} does not exist on {day:%d %b %Y}: the clocks go forward then. Choose another time.",
            code="nonexistent_time",
        )
    return aware


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours on daylight-saving change days)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    # In UTC: Python subtracts datetimes sharing a tzinfo as wall-clock times, hiding the DST hour.
    return start.astimezone(UTC), end.astimezone(UTC)


FIRST_YEAR, LAST_YEAR = 1900, 2100


def is_reasonable_day(day: date) -> bool:
    """Dates a practice can mean; beyond them time-zone arithmetic overflows (year 1, year 9999)."""
    return FIRST_YEAR <= day.year <= LAST_YEAR


def validate_reasonable_day(day: date) -> None:
    if not is_reasonable_day(day):
        raise ValidationError(f"Enter a date between {FIRST_YEAR} and {LAST_YEAR}.", code="date_range")


def parse_day(value: str, default: date) -> date:
    """A YYYY-MM-DD query parameter, or ``default`` when it is missing, malformed or out of range."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return default
    return day if is_reasonable_day(day) else default
