"""The words of dismissing an unmatched payment as not ours and bringing it back, on the
Unmatched payments page, in Russian and English: part of the one catalogue
(services.dashboard.i18n)."""

from __future__ import annotations

from collections.abc import Mapping

DISMISSAL: dict[str, dict[str, str | Mapping[str, str]]] = {
    "ru": {
        "not_ours": "Не наша",
        "not_ours_help": "Тестовая сделка, демо-данные CRM, клиент пришёл не через нас",
        "dismiss_reason": "Почему",
        "dismiss_reason_hint": "Почему не наша",
        "dismiss": "Не наша оплата",
        "dismissed_payments": "Отклонённые",
        "dismissed_help": "Оплаты, отмеченные как не наши: они не занимают место в пределе"
        " непривязанных оплат подключения, повторный вебхук их не возвращает.",
        "dismissed_at": "Когда отклонена",
        "reopen": "Вернуть",
        "dismiss_reason_missing": "Напишите, почему эта оплата не наша: без причины она"
        " не отклонена",
        "dismiss_reason_long": "Причина длиннее {longest} символов: сократите её",
        "flash_dismissed": "Оплата {amount} ({ref}) отмечена как не наша",
        "flash_reopened": "Оплата {amount} ({ref}) снова ждёт привязки",
        "flash_not_open": "Оплата {ref} уже привязана или отклонена: ничего не изменено",
        "flash_not_dismissed": "Оплата {ref} не отклонена: ничего не изменено",
        "pay_dismissed": "Эта оплата отмечена как не наша: чтобы привязать её, сначала верните"
        " её из отклонённых",
        "did_dismiss_payment": "Оплата отмечена как не наша",
        "did_reopen_payment": "Отклонённая оплата возвращена",
    },
    "en": {
        "not_ours": "Not ours",
        "not_ours_help": "A test deal, a CRM's demo data, a client who did not come through us",
        "dismiss_reason": "Why",
        "dismiss_reason_hint": "Why not ours",
        "dismiss": "Not our payment",
        "dismissed_payments": "Dismissed",
        "dismissed_help": "Payments marked as not ours: they take no room under the"
        " connection's limit of unmatched payments, and a repeated webhook does not bring"
        " them back.",
        "dismissed_at": "Dismissed",
        "reopen": "Bring back",
        "dismiss_reason_missing": "Say why this payment is not ours: without a reason it is"
        " not dismissed",
        "dismiss_reason_long": "The reason is longer than {longest} characters: shorten it",
        "flash_dismissed": "Payment of {amount} ({ref}) marked as not ours",
        "flash_reopened": "Payment of {amount} ({ref}) waits to be attached again",
        "flash_not_open": "Payment {ref} is already attached or dismissed: nothing changed",
        "flash_not_dismissed": "Payment {ref} is not dismissed: nothing changed",
        "pay_dismissed": "This payment is marked as not ours: bring it back from the dismissed"
        " ones to attach it",
        "did_dismiss_payment": "Payment marked as not ours",
        "did_reopen_payment": "Dismissed payment brought back",
    },
}
