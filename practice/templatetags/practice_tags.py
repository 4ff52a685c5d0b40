from django import template

from practice.phones import mobile_display, phone_display

register = template.Library()


@register.filter
def mobile(value: str) -> str:
    """+61412345678 → 0412 345 678 (international numbers keep their country code)."""
    return mobile_display(value or "")


@register.filter
def phone(value: str) -> str:
    """A practice or location phone in the one format the app prints ("0290001234" → "(02) 9000 1234"); a value
    that is not a real number (stored before validation existed) is shown as it is, so the page still works."""
    try:
        return phone_display(value or "")
    except ValueError:
        return value
