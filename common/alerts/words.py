"""The words of alert messages in the languages leadrelay speaks (`alerts.language`). The
problem itself (what a CRM or a check answered) is shown as it was reported."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "ru": {
        "new_lead": "Новая заявка",
        "campaign": "Кампания",
        "name": "Имя",
        "phone": "Телефон",
        "email": "E-mail",
        "source": "Источник",
        "comment": "Комментарий",
        "lead": "Заявка {id}",
        "gone": "Заявки {id} больше нет в базе",
        "not_delivered": "⚠ Заявка не доставлена в CRM",
        "reason": "Причина",
        "retry_hint": "Заявка {id}: отправьте её снова из панели, когда причина устранена",
        "problem": "⚠ leadrelay: {problem}",
        "recovered": "✅ leadrelay: снова работает: {problem}",
        "stalled": "очередь задач стоит: задача ждёт {minutes} мин (диспетчер запущен?)",
        "moving": "очередь задач снова движется",
    },
    "en": {
        "new_lead": "New lead",
        "campaign": "Campaign",
        "name": "Name",
        "phone": "Phone",
        "email": "E-mail",
        "source": "Source",
        "comment": "Comment",
        "lead": "Lead {id}",
        "gone": "Lead {id} is no longer stored",
        "not_delivered": "⚠ A lead was not delivered to the CRM",
        "reason": "Reason",
        "retry_hint": "Lead {id}; retry it from the dashboard once the cause is fixed",
        "problem": "⚠ leadrelay: {problem}",
        "recovered": "✅ leadrelay: recovered: {problem}",
        "stalled": "the task queue is stalled: a task has been due for {minutes} min"
        " (is the dispatcher running?)",
        "moving": "the task queue moves again",
    },
}


def words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["ru"])
