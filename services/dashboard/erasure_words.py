"""The words of erasing a person's data (the lead page's button, its confirmation, the
timeline's sentence), in Russian and English: part of the one catalogue
(services.dashboard.i18n)."""

from __future__ import annotations

from collections.abc import Mapping

ERASURE: dict[str, dict[str, str | Mapping[str, str]]] = {
    "ru": {
        "erase_open": "Удалить персональные данные…",
        "erase_title": "Удаление персональных данных",
        "erase_help": "Имя, телефон, e-mail, комментарий, ответы формы и идентификаторы"
        " клиента будут удалены из заявки, её истории, очереди и полученных вебхуков."
        " Кампания, UTM-метки, статус, суммы и даты останутся, отчёты не изменятся."
        " Отменить это нельзя.",
        "erase_reason": "Причина (например, номер обращения)",
        "erase_confirm": "Чтобы подтвердить, введите слово «{word}»",
        "erase_word": "удалить",
        "erase_button": "Удалить навсегда",
        "erase_cancel": "Отмена",
        "erase_mistyped": "Слово для подтверждения введено неверно: ничего не удалено.",
        "flash_erased": "Персональные данные заявки удалены",
        "flash_erased_before": "Удалять нечего: данные этой заявки уже удалены",
        "flash_erased_wal": "Данные удалены; старые копии останутся в файле журнала"
        " до следующей контрольной точки",
        "tl_erased": "Персональные данные удалены ({actor})",
        "tl_erased_why": "Персональные данные удалены ({actor}): {reason}",
        "tl_erased_retention": "Персональные данные удалены по сроку хранения",
        "event_LEAD_ERASED": "Персональные данные удалены",
        "action_erase_lead": "Удалять персональные данные",
        "tasktype_erase_expired_leads": "Удаление данных по сроку хранения",
    },
    "en": {
        "erase_open": "Erase personal data…",
        "erase_title": "Erasing personal data",
        "erase_help": "The name, phone, e-mail, comment, form answers and client ids will be"
        " removed from the lead, its history, the queue and the webhooks received. The"
        " campaign, UTM tags, status, amounts and dates stay, so reports do not change."
        " This cannot be undone.",
        "erase_reason": "Reason (a request number, say)",
        "erase_confirm": "To confirm, type the word “{word}”",
        "erase_word": "erase",
        "erase_button": "Erase for good",
        "erase_cancel": "Cancel",
        "erase_mistyped": "The confirmation word does not match: nothing was erased.",
        "flash_erased": "The lead's personal data is erased",
        "flash_erased_before": "Nothing to erase: this lead's data was erased before",
        "flash_erased_wal": "Erased; old copies stay in the database's log file until its"
        " next checkpoint",
        "tl_erased": "Personal data erased ({actor})",
        "tl_erased_why": "Personal data erased ({actor}): {reason}",
        "tl_erased_retention": "Personal data erased: its retention period ended",
        "event_LEAD_ERASED": "Personal data erased",
        "action_erase_lead": "Erasing personal data",
        "tasktype_erase_expired_leads": "Erasing data past its retention period",
    },
}
