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


def _display(number: phonenumbers.PhoneNumber) -> str:
    if number.country_code == 61:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_display(value: str) -> str:
    """A practice or location phone as people read it ("(02) 9000 1234", "1300 123 456", "+64 9 123 4567").

    Any kind of number (landline, mobile, 1300); raises ValueError with a message fit for a form when it is not a
    real phone number.
    """
    value = value.strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("Enter a phone number such as 02 9000 1234.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("That is not a valid phone number.")
    return _display(number)


def mobile_display(e164: str) -> str:
    """A stored mobile as people read it. Never raises: a value stored before validation existed (or written
    around it) is shown as it is, so the page still works and someone can correct it."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    if not phonenumbers.is_possible_number(number):
        return e164
    return _display(number)
