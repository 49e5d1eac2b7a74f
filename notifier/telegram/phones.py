"""Phone numbers as a Telegram contact gives them (often digits without "+"), normalised with
`phonenumbers` (Russian numbers by default) for the Okdesk contact lookup. Pure."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "RU"


def normalise(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """E.164 (`+79161234567`), or None for what is not a phone number."""
    text = (raw or "").strip()
    if not text:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    candidates = [text]
    if not text.startswith("+") and digits:
        candidates.append("+" + digits)  # Telegram sends international numbers without the "+"
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def lookup_forms(e164: str) -> list[str]:
    """The forms to ask Okdesk for, in order: E.164, and for Russian numbers also the domestic
    `8XXXXXXXXXX` many contact cards are typed with."""
    forms = [e164]
    number = phonenumbers.parse(e164, None)
    if number.country_code == 7:
        forms.append("8" + str(number.national_number))
    return forms


def shown(e164: str) -> str:
    """The number as it is shown back to the user (international format)."""
    return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
