import pytest

from common.contacts import mask_email, mask_name, mask_phone, normalise_email, normalise_phone


@pytest.mark.parametrize(
    "raw", ["8 (999) 123-45-67", "+7 999 123 45 67", "79991234567", "+7(999)1234567"]
)
def test_russian_phones_become_e164(raw):
    assert normalise_phone(raw, "RU") == "+79991234567"


@pytest.mark.parametrize("raw", ["12", "hello", "+7 999", "8 (000) 000-00-00"])
def test_non_phones_are_refused(raw):
    with pytest.raises(ValueError):
        normalise_phone(raw, "RU")


def test_email_is_normalised_and_checked():
    assert normalise_email(" Olga@Example.RU ") == "Olga@example.ru"
    with pytest.raises(ValueError):
        normalise_email("olga@")


def test_masks_hide_most_of_the_value():
    assert mask_phone("+79991234567") == "+7********67"
    assert mask_email("olga@example.ru") == "o***@example.ru"
    assert mask_name("Ольга") == "О***"
