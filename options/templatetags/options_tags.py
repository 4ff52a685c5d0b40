from django import template

from options.sections import available_sections

register = template.Library()


@register.inclusion_tag("options/_menu.html", takes_context=True)
def options_menu(context) -> dict:
    """The side menu of every Options page, with the current section marked."""
    path = context["request"].path
    return {"menu": [{"label": section.label, "url": url, "current": path.startswith(url)}
                     for section, url in available_sections()]}
