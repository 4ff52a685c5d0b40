from django import template

from practice.phones import mobile_display

register = template.Library()


@register.filter
def mobile(value: str) -> str:
    """+61412345678 → 0412 345 678 (international numbers keep their country code)."""
    return mobile_display(value or "")
