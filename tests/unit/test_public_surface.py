"""The small pieces of the public surface: address lists, folded label values, the collector."""

import subprocess
import sys
from pathlib import Path

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


def test_a_started_process_sets_start_up_aside_and_still_collects_cycles():
    # In a process of its own: the collector's settings are the whole process's.
    script = """
import gc
from common.serving import YOUNG_GENERATION, settle_collector
settle_collector()
assert gc.get_threshold()[0] == YOUNG_GENERATION, gc.get_threshold()
assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()  # the imports, set aside
ring = []
ring.append(ring)
del ring
assert gc.collect() >= 1  # a cycle made after start-up is still found
print("settled")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.stdout.strip() == "settled", done.stderr
