from django import template
from django.utils.safestring import SafeString

from scheduling import diary_html
from scheduling.services import UNDO_SECONDS

register = template.Library()

UNDO_TAG = "undo-token:"


@register.filter
def undo_token(extra_tags: str) -> str:
    """A message offering Undo carries its signed token among its tags (scheduling.views._undo_tags)."""
    for tag in extra_tags.split():
        if tag.startswith(UNDO_TAG):
            return tag.removeprefix(UNDO_TAG)
    return ""


@register.simple_tag
def undo_seconds() -> int:
    return UNDO_SECONDS


@register.simple_tag
def diary_column_heads(grid, shown) -> SafeString:
    return diary_html.column_heads(grid.columns, shown=shown or None)


@register.simple_tag
def practitioner_options(practitioners, chosen) -> SafeString:
    return diary_html.practitioner_options(practitioners, chosen=chosen)


@register.simple_tag
def diary_columns(grid, shown) -> SafeString:
    return diary_html.columns(grid.columns, shown=shown or None)
