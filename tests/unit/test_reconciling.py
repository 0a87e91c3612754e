"""How a CRM's answer about the records of paid leads is read (common.reconciling.recheck)."""

from decimal import Decimal

from common.errors import InvalidField
from common.model import Notice
from common.reconciling import recheck


def paid(item: dict) -> Notice:
    if not isinstance(item.get("price"), int):
        raise InvalidField("price", [{"field": "price", "message": "not a number"}])
    return Notice("paid", item["id"], amount=Decimal(item["price"]), currency="RUB")


def deleted(ref: str) -> Notice:
    return Notice("deleted", ref)


def read(refs: list[str], items: list[object]):
    return recheck(refs, items, lambda item: str(item.get("id", "")), paid, deleted)


def test_a_record_missing_from_the_answer_is_deleted_and_a_listed_one_says_its_state():
    found = read(["1", "2"], [{"id": "1", "price": 500}])
    assert found.notices == {"1": paid({"id": "1", "price": 500}), "2": deleted("2")}
    assert found.skipped == 0


def test_the_same_record_said_two_ways_is_skipped_not_the_last_believed():
    found = read(["1", "2"], [{"id": "1", "price": 500}, {"id": "1", "price": 900}])
    assert "1" not in found.notices and found.skipped == 1
    assert found.notices == {"2": deleted("2")}


def test_the_same_record_twice_alike_is_read_once():
    same = {"id": "1", "price": 500}
    found = read(["1"], [same, dict(same)])
    assert found.notices == {"1": paid(same)} and found.skipped == 0


def test_an_entry_not_asked_for_keeps_every_missing_record_from_being_taken_for_deleted():
    found = read(["1", "2"], [{"id": "1", "price": 500}, {"id": "7", "price": 1}])
    assert found.notices == {"1": paid({"id": "1", "price": 500})} and found.skipped == 1


def test_an_unreadable_record_is_skipped_not_deleted():
    found = read(["1"], [{"id": "1", "price": "1e309"}])
    assert found.notices == {} and found.skipped == 1
