"""SMS encoding, segments and credits (R12): GSM 03.38 tables, concatenation, straddling, transliteration."""

import pytest

from reminders.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    TELEHEALTH_SMS_CREDITS,
    SegmentInfo,
    is_gsm7,
    sms_segments,
    to_gsm,
    usual_sms_credits,
)


def test_it_has_the_gsm_03_38_tables():
    assert len(GSM7_BASIC) == 127  # 128 positions, 0x1B being the escape to the extension table
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    for ch in "@_*-$¤£¥§¿¡ΔΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜäöñüàèéùìòÇØøÅå\n\r !\"#%&'()+,./:;<=>?":
        assert ch in GSM7_BASIC, ch
    for ch in "^{}\\[~]|€\f":
        assert ch in GSM7_EXTENSION, ch
    for ch in "`\x1b\tçëâ":
        assert not is_gsm7(ch), repr(ch)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [(0, 1, 160), (1, 1, 160), (160, 1, 160), (161, 2, 153), (306, 2, 153), (307, 3, 153), (459, 3, 153),
     (460, 4, 153)],
)
def test_it_counts_gsm7_segments(length, segments, per_segment):
    assert sms_segments("a" * length) == SegmentInfo("GSM-7", length, segments, per_segment)


def test_it_treats_an_empty_text_as_one_segment():
    assert sms_segments("") == SegmentInfo(encoding="GSM-7", units=0, segments=1, per_segment=160)
    assert usual_sms_credits("") == 1


def test_it_counts_extension_characters_as_two_septets():
    assert sms_segments("€" * 80) == SegmentInfo("GSM-7", 160, 1, 160)
    assert sms_segments("€" * 80 + "a") == SegmentInfo("GSM-7", 161, 2, 153)
    assert sms_segments("{}[]~|^\\\f€").units == 20
    assert sms_segments("a" * 159 + "[").segments == 2


def test_it_never_splits_an_extension_character_across_parts():
    # 152 + 2 + 151 = 305 septets: the euro moves to part two, which is then exactly full.
    assert sms_segments("a" * 152 + "€" + "a" * 151) == SegmentInfo("GSM-7", 305, 2, 153)
    # 306 septets would fit in 2 × 153, but the straddling euro pushes the last character into a third part.
    assert sms_segments("a" * 152 + "€" + "a" * 152) == SegmentInfo("GSM-7", 306, 3, 153)
    assert sms_segments("a" * 151 + "€" + "a" * 153) == SegmentInfo("GSM-7", 306, 2, 153)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [(1, 1, 70), (70, 1, 70), (71, 2, 67), (134, 2, 67), (135, 3, 67)],
)
def test_it_counts_ucs2_segments(length, segments, per_segment):
    assert sms_segments("ж" * length) == SegmentInfo("UCS-2", length, segments, per_segment)


def test_it_uses_ucs2_for_the_whole_text_when_one_character_needs_it():
    info = sms_segments("a" * 60 + "€" + "李")
    assert info == SegmentInfo("UCS-2", 62, 1, 70)  # the euro is one UTF-16 unit, not an escape pair


def test_it_counts_emoji_as_surrogate_pairs():
    assert sms_segments("😀" * 35) == SegmentInfo("UCS-2", 70, 1, 70)
    assert sms_segments("😀" * 36) == SegmentInfo("UCS-2", 72, 2, 67)
    assert sms_segments("Hi 😀") == SegmentInfo("UCS-2", 5, 1, 70)


def test_it_never_splits_a_surrogate_pair_across_parts():
    assert sms_segments("ж" * 66 + "😀" + "ж" * 65) == SegmentInfo("UCS-2", 133, 2, 67)
    assert sms_segments("ж" * 66 + "😀" + "ж" * 66) == SegmentInfo("UCS-2", 134, 3, 67)


def test_it_charges_a_usual_sms_one_credit_per_segment():
    assert usual_sms_credits("See you tomorrow at 10:00.") == 1
    assert usual_sms_credits("a" * 160) == 1
    assert usual_sms_credits("a" * 161) == 2
    assert usual_sms_credits("a" * 307) == 3
    assert usual_sms_credits("Hi Zoë 😀") == 1
    assert usual_sms_credits("ж" * 71) == 2


def test_it_charges_a_telehealth_sms_two_credits():
    assert TELEHEALTH_SMS_CREDITS == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zoë", "Zoe"),
        ("Nguyễn", "Nguyen"),
        ("José", "José"),  # é is in the GSM-7 basic set
        ("Jose\u0301", "José"),  # decomposed input is composed first
        ("Françoise Çelik", "Francoise Çelik"),
        ("Łukasz Wałęsa", "Lukasz Walesa"),
        ("Søren Ærø", "Søren Ærø"),
        ("Œuvre", "OEuvre"),
        ("李小龙", ""),
        ("Li 李", "Li "),
        ("“Quoted” ‘single’ – en — em…", "\"Quoted\" 'single' - en - em..."),
        ("non\u00a0breaking\u202fspace", "non breaking space"),
        ("zero\u200bwidth", "zerowidth"),
        ("Party 🎉 time 👩‍⚕️", "Party  time "),
        ("€5 {ok} [yes] ~ | ^ \\", "€5 {ok} [yes] ~ | ^ \\"),
        ("ｆｕｌｌ ｗｉｄｔｈ", "full width"),
        ("tab\there", "tab here"),
        ("`back`", "'back'"),
    ],
)
def test_it_transliterates_to_gsm7(text, expected):
    result = to_gsm(text)
    assert result == expected
    assert is_gsm7(result)
    assert sms_segments(result).encoding == "GSM-7"


@pytest.mark.parametrize(
    "text",
    ["Ελληνικά", "Русский текст", "العربية", "हिन्दी", "日本語のテキスト", "한국어", "ễ ỹ ở ữ", "🏳️‍🌈🇦🇺", "\x00\x07\x1b"],
)
def test_it_yields_only_gsm7_whatever_the_input(text):
    assert is_gsm7(to_gsm(text))
