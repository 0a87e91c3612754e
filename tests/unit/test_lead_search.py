"""What a person types into the leads search: read as ingest reads a phone or an e-mail."""

import pytest

from common.contacts import fold
from common.search import MOST, SearchKind, read_search


@pytest.mark.parametrize(
    "typed",
    ["8 (916) 123-45-67", "+7 916 123 45 67", "89161234567", "9161234567", "+7(916)123-45-67"],
)
def test_a_whole_phone_in_any_notation_is_its_e164_form(typed):
    search = read_search(typed, "RU")
    assert (search.kind, search.value, search.typed) == (SearchKind.PHONE, "+79161234567", typed)


def test_a_phone_is_read_with_the_region_ingest_uses():
    assert read_search("030 1234567", "DE").value == "+49301234567"
    assert read_search("030 1234567", "RU").kind is SearchKind.DIGITS  # no Russian number


@pytest.mark.parametrize(
    ("typed", "digits"), [("4567", "4567"), ("+7 916", "7916"), ("12-34", "1234")]
)
def test_a_part_of_a_phone_is_its_digits(typed, digits):
    search = read_search(typed, "RU")
    assert (search.kind, search.value) == (SearchKind.DIGITS, digits)


def test_an_email_is_normalised_and_folded():
    search = read_search("  Ivan.Petrov@Example.RU ", "RU")
    assert (search.kind, search.value) == (SearchKind.EMAIL, "ivan.petrov@example.ru")
    assert search.typed == "Ivan.Petrov@Example.RU"


@pytest.mark.parametrize(
    ("typed", "value"), [("ИВАН", "иван"), ("ivan@", "ivan@"), ("Olga 5", "olga 5")]
)
def test_anything_else_is_a_folded_part_of_a_name_or_email(typed, value):
    search = read_search(typed, "RU")
    assert (search.kind, search.value) == (SearchKind.TEXT, value)


def test_a_lead_id_is_that_lead_whatever_its_case():
    lead_id = "0190a5d2-7b3c-7def-8123-456789abcdef"
    search = read_search(lead_id.upper(), "RU")
    assert (search.kind, search.value) == (SearchKind.LEAD_ID, lead_id)


def test_an_empty_search_asks_nothing_and_a_long_one_is_refused():
    assert read_search(None, "RU") is None and read_search("   ", "RU") is None
    assert read_search("я" * MOST, "RU") is not None
    with pytest.raises(ValueError, match="at most 100 characters"):
        read_search("я" * (MOST + 1), "RU")


def test_fold_folds_every_alphabet():
    assert fold("ИВАН Ivan ÄÖ") == "иван ivan äö" and fold(None) is None
