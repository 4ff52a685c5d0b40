from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def check_field_encryption_keys(app_configs, **kwargs) -> list[Warning]:
    if settings.DEV_FIELD_ENCRYPTION_KEY in settings.FIELD_ENCRYPTION_KEYS:
        return [Warning(
            "FIELD_ENCRYPTION_KEYS uses the development key, so stored Zoom secrets are not protected.",
            hint="Set FIELD_ENCRYPTION_KEYS to one or more keys from cryptography's Fernet.generate_key().",
            id="telehealth.W001",
        )]
    return []
