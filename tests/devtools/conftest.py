# The telehealth booking fixtures, for the emulator's webhook tests (they book through the app).
from tests.telehealth.conftest import committed, tele_book  # noqa: F401
