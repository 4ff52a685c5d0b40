"""How client search compares text: pure functions, no models, so the stored columns and the typed query are
normalised by the same code (and a data migration can fill old rows with it).

A client row keeps derived columns (Client.save() and the bulk paths refresh them):
- ``search_name``: "first last", lower-cased and accent-folded, to find a same-name duplicate with one index;
- ``search_text``: every searchable word in one column: names (preferred too), the mobile's digits in national
  form ("0410000023") and the email, lower-cased. One column means one index (a pg_trgm GIN index on PostgreSQL)
  and one ``LIKE`` per typed word, wherever the word came from;
- ``search_key_first``, ``search_key_last``, ``search_key_preferred``: each name's consonant skeleton (below), for
  typos where there is no pg_trgm (SQLite).
"""

import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

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


# Typo tolerance without pg_trgm (SQLite) ----------------------------------------------------------------------------
# A name's skeleton: its consonants in order, letters people type for one another folded together (c, k and q; s and
# z; ph and f), vowels and y dropped, then a letter repeated in a row kept once: "Kelly" and "Kelyl" → "kl", "Smith"
# → "smth", "Nguyen" → "ngn". Client keeps the skeleton of each name in an indexed column, so "a name one typo away"
# becomes index look-ups by equality. First the typed word's skeleton and those a slip away (two consonants
# swapped, one too many: "Smiht" → "smht", a swap from "smth"); only when they find too few, and for skeletons of
# three consonants or more, those a wrong or missing consonant away ("Nguyem" → "ngm", "m" next to "n" → "ngn").
# The candidates found are then ranked by how close the whole words are, so a skeleton shared by other names costs
# a little reading, never a wrong first result.

TYPO_FOLDS = str.maketrans({"c": "k", "q": "k", "z": "s"})
NOT_SKELETON = frozenset("aeiouy")
SKELETON_LETTERS = "bdfghjklmnprstvwx"  # every letter a skeleton can hold, after folding
TYPO_WORD_MIN = 3  # a shorter word is checked only as the beginning of a name, never by its skeleton
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
SOUND_ALIKE = ("bp", "dt", "gk", "fv", "mn")


def _collapse(letters: str) -> str:
    return "".join(ch for index, ch in enumerate(letters) if index == 0 or letters[index - 1] != ch)


def _fold(letters: str) -> str:
    return letters.replace("ph", "f").translate(TYPO_FOLDS)


def _wrong_letters() -> dict[str, str]:
    """For each skeleton letter, the letters typed for it by mistake: its neighbours on a QWERTY keyboard and the
    letter that sounds alike, as skeleton letters."""
    near: dict[str, set[str]] = {letter: set() for letter in SKELETON_LETTERS}

    def pair(key: str, other_key: str) -> None:
        one, other = _fold(key), _fold(other_key)
        if one in near and other in near and one != other:
            near[one].add(other)
            near[other].add(one)

    for row, keys in enumerate(KEYBOARD_ROWS):
        for index, key in enumerate(keys):
            if index + 1 < len(keys):
                pair(key, keys[index + 1])
            if row + 1 < len(KEYBOARD_ROWS):
                below = KEYBOARD_ROWS[row + 1]
                for near_key in below[max(index - 1, 0):index + 1]:
                    pair(key, near_key)
    for sounds in SOUND_ALIKE:
        pair(sounds[0], sounds[1])
    return {letter: "".join(sorted(others)) for letter, others in near.items()}


WRONG_LETTERS = _wrong_letters()


def name_skeleton(value: str) -> str:
    """The consonant skeleton of a name (all its words run together), as stored and as looked up."""
    letters = _fold("".join(ch for ch in normalise_text(value) if "a" <= ch <= "z"))
    return _collapse("".join(ch for ch in letters if ch not in NOT_SKELETON))


def _kept(skeleton: str, variants: set[str]) -> set[str]:
    shortest = min(2, len(skeleton))  # a changed letter can collapse into its neighbour: "kl" → "kk" → "k"
    return {collapsed for collapsed in map(_collapse, variants) if len(collapsed) >= shortest}


def skeletons_a_slip_away(skeleton: str) -> set[str]:
    """The skeleton, and those with two neighbouring consonants swapped or, from three consonants up, one dropped
    (dropping one of two would leave a single letter, which half the short names share)."""
    if not skeleton:
        return set()
    variants = {skeleton}
    for index in range(len(skeleton) - 1):
        variants.add(skeleton[:index] + skeleton[index + 1] + skeleton[index] + skeleton[index + 2:])
    if len(skeleton) >= 3:
        variants.update(skeleton[:index] + skeleton[index + 1:] for index in range(len(skeleton)))
    return _kept(skeleton, variants)


def skeletons_a_letter_away(skeleton: str) -> set[str]:
    """From three consonants up: those with a consonant added anywhere, or one changed for a letter typed for it
    by mistake (WRONG_LETTERS). Shorter skeletons would match too many short names to be worth reading."""
    if len(skeleton) < 3:
        return set()
    variants: set[str] = set()
    for index in range(len(skeleton) + 1):
        variants.update(skeleton[:index] + letter + skeleton[index:] for letter in SKELETON_LETTERS)
    for index, letter in enumerate(skeleton):
        variants.update(skeleton[:index] + wrong + skeleton[index + 1:] for wrong in WRONG_LETTERS[letter])
    return _kept(skeleton, variants)


TYPO_SIMILARITY_MIN = 0.6  # difflib ratio a similar spelling needs on SQLite: "Kelyl"/"Kelly" 0.8, "Smiht"/"Smith" 0.8


@lru_cache(maxsize=8192)
def word_similarity(typed: str, name_word: str) -> float:
    """How close a typed word is to a word of a name, 0 to 1: 1 when it begins it (as the exact search finds),
    otherwise difflib's ratio (matching letters over all letters), 0 when that is plainly under the threshold.
    Cached, as are a name's words: the candidates for one query share few distinct names."""
    if name_word.startswith(typed):
        return 1.0
    matcher = SequenceMatcher(None, typed, name_word, autojunk=False)
    if matcher.real_quick_ratio() < TYPO_SIMILARITY_MIN or matcher.quick_ratio() < TYPO_SIMILARITY_MIN:
        return 0.0
    return matcher.ratio()


@lru_cache(maxsize=8192)
def name_words(name: str) -> tuple[str, ...]:
    """The words of one name as typed words are compared with them; a name of several words also whole
    ("van der berg" and "vanderberg")."""
    normalised = normalise_text(name)
    words = normalised.split()
    return (*words, normalised.replace(" ", "")) if len(words) > 1 else tuple(words)


def typo_similarity(typed_words: list[str], names: tuple[str, ...]) -> float:
    """The mean closeness of each typed word to its nearest word of the client's names, or 0 when any typed word
    has none near enough (each typed word must be near some name, as each must occur in the exact search)."""
    words = [word for name in names for word in name_words(name)]
    if not typed_words or not words:
        return 0.0
    total = 0.0
    for typed in typed_words:
        best = max(word_similarity(typed, word) for word in words)
        if best < TYPO_SIMILARITY_MIN:
            return 0.0
        total += best
    return total / len(typed_words)
