from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from scheduling.feeds import feed_keys


@register()
def check_calendar_feed_keys(app_configs, **kwargs) -> list[Error]:
    """A malformed CALENDAR_FEED_KEYS is refused at start, not when the first calendar app asks for a feed."""
    try:
        feed_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="e.g. CALENDAR_FEED_KEYS=2026a:<python -c \"import secrets; "
                                     "print(secrets.token_urlsafe(32))\">", id="scheduling.E001")]
    return []


@register(deploy=True)
def check_calendar_feed_keys_set(app_configs, **kwargs) -> list[Warning]:
    if settings.DEV_CALENDAR_FEED_KEY in settings.CALENDAR_FEED_KEYS:
        return [Warning(
            "CALENDAR_FEED_KEYS is not set: calendar feed links are signed with a key derived from SECRET_KEY, so "
            "changing SECRET_KEY stops every subscribed calendar.",
            hint="Set CALENDAR_FEED_KEYS to kid:secret (a random secret of 32 characters or more).",
            id="scheduling.W001",
        )]
    return []


@register(deploy=True)
def check_public_base_url_set(app_configs, **kwargs) -> list[Warning]:
    if not settings.PUBLIC_BASE_URL:
        return [Warning(
            "PUBLIC_BASE_URL is not set: client links in SMS and email would point at the development server.",
            hint="Set PUBLIC_BASE_URL to the practice's https address, e.g. https://diary.example.com.",
            id="scheduling.W002",
        )]
    return []
