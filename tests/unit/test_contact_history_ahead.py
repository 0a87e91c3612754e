"""Intake's question about a contact (a repeat? seen before?) is asked ahead of a PostgreSQL
batch, before the batch's own leads are written (common/store/contact_history.py). The
answers must be those of asking one lead at a time: a second submission in the same batch
is a repeat of the first, and a batch run again unit by unit still answers right."""

from common.config import IngestSettings
from common.leads import Acceptance, Submission
from common.model import NewLead
from common.store.replay import verify
from tests.helpers import rows, write_together


def _submit(campaign: str, phone: str | None = None, email: str | None = None) -> Submission:
    return Submission(NewLead(campaign_id=campaign, phone=phone, email=email), {"request_id": "r"})


async def test_a_second_submission_in_the_same_batch_is_a_repeat_of_the_first(store):
    rules = IngestSettings()
    units = [Acceptance(_submit("spring", phone="+79161112233"), rules) for _ in range(3)]
    units.append(Acceptance(_submit("spring", email="Ivan@Example.ru"), rules))
    units.append(Acceptance(_submit("spring", email="ivan@example.ru"), rules))
    answers = await write_together(store, *units)
    statuses = [a.answer["status"] for a in answers]
    assert statuses == ["new", "repeat", "repeat", "new", "repeat"]
    assert (
        answers[1].answer["lead_id"] == answers[2].answer["lead_id"] == answers[0].answer["lead_id"]
    )
    assert answers[4].answer["lead_id"] == answers[3].answer["lead_id"]
    assert all(isinstance(a.answer["task_id"], int) for a in answers if a.answer["status"] == "new")
    assert len(rows(store.location, "SELECT id FROM leads")) == 2
    assert await verify(store) == []


async def test_a_contact_seen_earlier_in_the_batch_for_another_campaign_is_counted_as_seen(store):
    rules = IngestSettings()
    first = Acceptance(_submit("spring", phone="+79160000001"), rules)
    other = Acceptance(_submit("autumn", phone="+79160000001"), rules)
    answers = await write_together(store, first, other)
    assert [a.answer["status"] for a in answers] == ["new", "new"]  # another campaign: new
    counted = rows(
        store.location, "SELECT campaign_id, repeat_leads FROM source_stats ORDER BY campaign_id"
    )
    assert [(r["campaign_id"], r["repeat_leads"]) for r in counted] == [
        ("autumn", 1),  # its contact came before: a repeat customer in the overview
        ("spring", 0),
    ]


async def test_a_campaign_without_the_repeat_check_makes_a_lead_of_each(store):
    rules = IngestSettings(repeat_check_off=["quiz"])
    units = [Acceptance(_submit("quiz", phone="+79160000002"), rules) for _ in range(3)]
    answers = await write_together(store, *units)
    assert [a.answer["status"] for a in answers] == ["new", "new", "new"]


async def test_a_batch_run_again_unit_by_unit_still_finds_the_repeat(store):
    """A unit that fails sends its batch to savepoints: the answers asked ahead are dropped
    and each unit asks again, now seeing the leads of the units before it."""
    rules = IngestSettings()

    def broken(tx):
        raise ValueError("a unit that fails")

    units = [Acceptance(_submit("spring", phone="+79160000003"), rules) for _ in range(2)]
    answers = await write_together(store, units[0], broken, units[1])
    assert isinstance(answers[1], ValueError)
    assert [answers[0].answer["status"], answers[2].answer["status"]] == ["new", "repeat"]
    assert answers[2].answer["lead_id"] == answers[0].answer["lead_id"]
    assert len(rows(store.location, "SELECT id FROM leads")) == 1


async def test_each_question_of_a_batch_gets_the_answer_for_its_own_contact(store):
    """On PostgreSQL a batch's questions go as one statement: each answer must be the one of
    its own contact, found among the leads written before the batch."""
    rules = IngestSettings()
    earlier = await write_together(
        store, *(Acceptance(_submit("spring", phone=f"+7916100000{n}"), rules) for n in range(8))
    )
    lead_of = {f"+7916100000{n}": a.answer["lead_id"] for n, a in enumerate(earlier)}
    await store.write(Acceptance(_submit("autumn", email="olga@example.ru"), rules))
    units = [Acceptance(_submit("spring", phone=phone), rules) for phone in reversed(lead_of)]
    units.append(
        Acceptance(_submit("spring", email="Olga@Example.ru"), rules)
    )  # seen, other campaign
    units.append(Acceptance(_submit("spring", phone="+79162000000"), rules))  # never seen
    units.append(Acceptance(_submit("autumn", phone="+79161000003"), rules))  # seen in spring
    answers = await write_together(store, *units)
    repeats = answers[:8]
    assert [a.answer["status"] for a in repeats] == ["repeat"] * 8
    assert [a.answer["lead_id"] for a in repeats] == list(reversed(lead_of.values()))
    assert [a.answer["status"] for a in answers[8:]] == ["new", "new", "new"]
    counted = rows(
        store.location,
        "SELECT campaign_id, sum(repeat_leads) AS n FROM source_stats GROUP BY campaign_id"
        " ORDER BY campaign_id",
    )
    # the e-mail seen in autumn and the phone seen in spring are repeat customers; the new
    # phone is not
    assert [(r["campaign_id"], r["n"]) for r in counted] == [("autumn", 1), ("spring", 1)]
    assert await verify(store) == []
