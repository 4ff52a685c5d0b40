"""SMS encoding, segments and credits (R12). Pure: no database, no Django models.

GSM 03.38 (3GPP TS 23.038) default alphabet and its extension table. A text is sent as GSM-7 when every character
is in one of the two tables, otherwise as UCS-2 (UTF-16 in practice, so characters outside the Basic Multilingual
Plane, such as most emoji, take two code units).

One segment holds 160 septets (GSM-7) or 70 UTF-16 code units; a longer text is split into parts of 153 septets or
67 code units, the rest of each part being the concatenation header. An extension character (escape + character)
and a surrogate pair are never split across parts, so they move whole to the next part when they would straddle.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The default alphabet in table order (0x00-0x7F); 0x1B is the escape to the extension table, not a character.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00-0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞ" "ÆæßÉ"  # 0x10-0x1F (0x1B escape left out)
    " !\"#¤%&'()*+,-./"  # 0x20-0x2F ($ is 0x02, 0x24 is the currency sign ¤)
    "0123456789:;<=>?"  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50-0x5F
    "¿abcdefghijklmno"  # 0x60-0x6F
    "pqrstuvwxyzäöñüà"  # 0x70-0x7F
)

# The extension table: each costs two septets (escape + character).
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# R12: a telehealth SMS always costs exactly 2 credits (reminders.fixed keeps it within 2 GSM-7 segments).
TELEHEALTH_SMS_CREDITS = 2


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7, escapes included) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # capacity of each segment for this text: 160/153 septets or 70/67 code units


def is_gsm7(text: str) -> bool:
    """True when the whole text can be sent in the GSM-7 alphabet (extension table included)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _parts(costs: list[int], per_part: int) -> int:
    """Parts needed when no character (escape pair or surrogate pair) may straddle two parts."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts += 1
            used = cost
        else:
            used += cost
    return parts


def sms_segments(text: str) -> SegmentInfo:
    """How ``text`` is encoded and how many segments it takes. An empty text is one segment."""
    if is_gsm7(text):
        encoding, single, per_part = GSM7, GSM7_SINGLE, GSM7_PART
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    else:
        encoding, single, per_part = UCS2, UCS2_SINGLE, UCS2_PART
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    units = sum(costs)
    if units <= single:
        return SegmentInfo(encoding=encoding, units=units, segments=1, per_segment=single)
    return SegmentInfo(encoding=encoding, units=units, segments=_parts(costs, per_part), per_segment=per_part)


def usual_sms_credits(text: str) -> int:
    """R12: a usual SMS costs one credit per segment."""
    return sms_segments(text).segments


_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t\v"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"

_REPLACEMENTS: dict[str, str] = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4`", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043", "-"),
    **dict.fromkeys(_SPACES, " "),
    **dict.fromkeys(_INVISIBLE, ""),
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": ".",
    "\u00d7": "x",
    "\u2044": "/",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\u0152": "OE",
    "\u0153": "oe",
    "\u0141": "L",
    "\u0142": "l",
    "\u0110": "D",
    "\u0111": "d",
    "\u00d0": "D",
    "\u00f0": "d",
    "\u00de": "Th",
    "\u00fe": "th",
    "\u0126": "H",
    "\u0127": "h",
    "\u0131": "i",
    "\u1e9e": "SS",
}


def _gsm_or_empty(text: str) -> str:
    return text if is_gsm7(text) else ""


def to_gsm(text: str) -> str:
    """Transliterate to the GSM-7 alphabet; what has no GSM-7 form (CJK, emoji, ...) is dropped.

    Characters already in GSM-7 stay (é, ñ, ß, Ø ...); others lose their accents (ễ -> e, ë -> e), typographic
    punctuation becomes plain (“ ” ‘ ’ – — … -> " " ' ' - - ...), unusual spaces become a space.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
        elif ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        else:
            for part in unicodedata.normalize("NFKD", ch):
                if unicodedata.combining(part):
                    continue
                if part in GSM7_BASIC or part in GSM7_EXTENSION:
                    out.append(part)
                else:
                    out.append(_gsm_or_empty(_REPLACEMENTS.get(part, "")))
    return "".join(out)
