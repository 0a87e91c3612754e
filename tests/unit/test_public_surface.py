"""The small pieces of the public surface: address lists and folded label values."""

from common.metrics import OTHER, Fold
from common.model import campaign_key
from common.serving import Networks, client_of


def test_networks_hold_addresses_and_dual_stack_forms_but_not_junk():
    trusted = Networks(["127.0.0.1", "10.0.0.0/8", "::1"])
    assert trusted.holds("127.0.0.1") and trusted.holds("10.20.30.40") and trusted.holds("::1")
    assert trusted.holds("::ffff:10.1.2.3")  # an IPv4 peer on a dual-stack socket
    assert not trusted.holds("127.0.0.2") and not trusted.holds("203.0.113.7")
    assert not trusted.holds(None) and not trusted.holds("") and not trusted.holds("/run/x.sock")


def test_a_fold_keeps_known_values_and_the_first_few_then_says_other():
    fold = Fold(2, keep=["Summer"], key=campaign_key)
    shown = [fold(value) for value in ["a", "B", "c", "SUMMER", "b", "d", "summer"]]
    # one series per campaign whatever its case: case cannot make new series either
    assert shown == ["a", "B", OTHER, "Summer", "B", OTHER, "Summer"]
    assert Fold(0)("anything") == OTHER


def test_an_ipv6_client_is_counted_by_its_64_and_an_ipv4_one_by_its_address():
    assert client_of("2001:db8:1:2:aaaa::1") == client_of("2001:db8:1:2:bbbb::9")
    assert client_of("2001:db8:1:2::1") != client_of("2001:db8:1:3::1")
    assert client_of("203.0.113.7") == "203.0.113.7" != client_of("203.0.113.8")
    assert client_of("::ffff:203.0.113.7") == "::ffff:203.0.113.7"
