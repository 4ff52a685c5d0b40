import phonenumbers

DEFAULT_REGION = "AU"


def mobile_to_e164(value: str) -> str:
    """Normalise what a receptionist typed ("0412 345 678", "+61412345678") to E.164.

    Raises ValueError with a message fit for a form when it is not a valid mobile number.
    """
    value = value.strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("Enter a mobile number such as 0412 345 678.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("That is not a valid phone number.")
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValueError("That is not a mobile number, so it cannot receive SMS.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mobile_display(e164: str) -> str:
    if not e164:
        return ""
    number = phonenumbers.parse(e164, DEFAULT_REGION)
    if number.country_code == 61:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
