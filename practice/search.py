"""How client search compares text: pure functions, no models, so the stored columns and the typed query are
normalised by the same code (and a data migration can fill old rows with it).

A client row keeps two derived columns (Client.save() refreshes them):
- ``search_name``: "first last", lower-cased and accent-folded, to find a same-name duplicate with one index;
- ``search_text``: every searchable word in one column: names (preferred too), the mobile's digits in national
  form ("0410000023") and the email, lower-cased. One column means one index (a pg_trgm GIN index on PostgreSQL)
  and one ``LIKE`` per typed word, wherever the word came from.
"""

import unicodedata

# Dropped inside a word, so "O'Brien", "O’Brien" and "obrien" are the same name.
APOSTROPHES = "'’ʼ`´"
# Kept inside a word: they belong to emails and phone numbers.
WORD_CHARACTERS = "@._+"
MAX_WORDS = 5  # a longer query is not a name; the rest is ignored rather than building a huge SQL condition


def normalise_text(value: str) -> str:
    """Lower case, accents folded ("Zoë" → "zoe"), apostrophes dropped, any other punctuation (hyphens,
    commas) a space: the words a person would type, in one canonical spelling."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    kept = []
    for char in decomposed:
        if unicodedata.combining(char) or char in APOSTROPHES:
            continue
        kept.append(char if char.isalnum() or char in WORD_CHARACTERS else " ")
    return " ".join("".join(kept).split())


def is_phone_like(value: str) -> bool:
    """Only digits and the characters people put in phone numbers, with at least one digit."""
    return any(ch.isdigit() for ch in value) and all(ch.isdigit() or ch in " +-()." for ch in value)


def phone_search_digits(value: str) -> str:
    """A phone number as the digits stored in ``search_text``: Australian numbers in national form ("0410000023"),
    others with their country code ("64211234567"). "+61 410 000 023", "61410000023", "0061 410…" → "0410000023"."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if digits.startswith("0061"):
        digits = digits[2:]
    if digits.startswith("61") and (value.lstrip().startswith(("+", "00")) or len(digits) >= 11):
        return "0" + digits[2:]
    return digits


def client_search_name(*, first_name: str, last_name: str) -> str:
    return normalise_text(f"{first_name} {last_name}")


def client_search_text(*, first_name: str, last_name: str, preferred_name: str, mobile: str, email: str) -> str:
    names = normalise_text(" ".join(part for part in (first_name, preferred_name, last_name) if part))
    phone = phone_search_digits(mobile) if mobile else ""
    return " ".join(part for part in (names, phone, email.strip().lower()) if part)


def query_words(query: str) -> list[str]:
    """What was typed, as the words each of which must occur in ``search_text``.

    A query that is all phone characters is one number however it is spaced ("0410 000 023"); otherwise each word
    is normalised like the stored names, a phone-like word like a number ("Kelly +61410000023").
    """
    if "\x00" in query or not query.strip():
        return []
    if is_phone_like(query):
        return [phone_search_digits(query)]
    words = []
    for word in query.replace(",", " ").split():
        if is_phone_like(word) and sum(ch.isdigit() for ch in word) >= 3:
            words.append(phone_search_digits(word))
        else:
            words += normalise_text(word).split()
    return [word for word in words if word][:MAX_WORDS]
