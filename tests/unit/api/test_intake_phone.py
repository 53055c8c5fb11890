"""A reporter's phone as residents type it: a Chinese IME's full-width digits and a bracketed area code are
the same number as plain digits (found by a review of the public pages: both were refused 422), and file the
caller under the same contact hash, so their repeats are still recognised."""

from __future__ import annotations

import pytest

from events.personal import contact_hash
from events.reference import load_reference
from services.api.intake import public_description
from services.api.intake_schema import parse_intake

SECRET = b"test-contact-secret-0123456789abcdef"
PLAIN = "+852 9123 4567"


def parsed_phone(phone: str) -> tuple[str | None, list[str]]:
    body = {"channel": "web", "description": "停电了，整栋楼都没电", "reporter": {"phone": phone}}
    request, errors = parse_intake(body, load_reference())
    fields = [e.field for e in errors]
    return (request.reporter.phone if request and request.reporter else None), fields


@pytest.mark.parametrize(
    "typed",
    [
        "＋８５２　９１２３　４５６７",
        "(852) 9123-4567",
        "(+852) 9123 4567",
        "＋852-9123-4567",
        "（852）91234567",
    ],
)
def test_a_phone_as_residents_type_it_is_taken_and_is_the_same_caller(typed: str) -> None:
    phone, errors = parsed_phone(typed)
    assert errors == [] and phone is not None
    assert contact_hash(phone, SECRET) == contact_hash(PLAIN, SECRET)


@pytest.mark.parametrize("typed", ["call me", "((((((", "+", "(852)", "９１２", "LV-7K3QX9"])
def test_what_is_not_a_phone_is_still_refused_naming_the_field(typed: str) -> None:
    assert parsed_phone(typed)[1] == ["reporter.phone"]


@pytest.mark.parametrize(
    "typed", ["(852) 6987-4321", "(+852) 6987 4321", "（852）69874321", "+852 6987 4321"]
)
def test_the_reporters_own_number_is_masked_in_their_description_however_they_wrote_it(typed: str) -> None:
    """A review found the bracketed forms, taken since the change above, left "69874321" in clear in the public
    description: the mask read the country code only after a +. Intake writes them the international way."""
    body = {
        "channel": "web",
        "description": "flooded, 69874321 is me, or 6987 4321",
        "reporter": {"phone": typed},
    }
    request, errors = parse_intake(body, load_reference())
    assert errors == [] and request is not None
    public = public_description(request)
    assert "69874321" not in public and "6987 4321" not in public


def test_an_area_code_in_brackets_is_kept_as_written() -> None:
    assert parsed_phone("(0755) 8888 8888") == ("(0755) 8888 8888", [])


def test_a_callers_full_width_number_is_the_same_caller_to_the_hash() -> None:
    """The operator's caller lookup takes the number as typed: full-width digits hash as the ASCII ones."""
    assert contact_hash("＋８５２　９１２３　４５６７", SECRET) == contact_hash(PLAIN, SECRET)
