"""Every word of the dashboard, in Russian (the default) and English: one catalogue, with
CLDR's plural rules (Babel) for counts, and the language's formats for numbers, money and
times (services.dashboard.formats)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.dashboard import formats
from services.dashboard.alert_chat_words import ALERT_CHATS
from services.dashboard.audit_words import AUDIT
from services.dashboard.erasure_words import ERASURE
from services.dashboard.overview_words import OVERVIEW
from services.dashboard.payment_words import DISMISSAL

LANGUAGES = ("ru", "en")
DEFAULT = "ru"
COOKIE = "lang"
UTC = ZoneInfo("UTC")

# A text, or for a count one text per CLDR plural category of the language (ru: one, few,
# many, other — 1 задача, 2 задачи, 5 задач, 1,5 задачи; en: one, other); `{count}` in it is
# the count written in the language's digits.
Text = str | Mapping[str, str]

TEXTS: dict[str, dict[str, Text]] = {
    "ru": {
        "title": "leadrelay — панель",
        "login": "Вход",
        "username": "Логин",
        "password": "Пароль",
        "sign_in": "Войти",
        "logout": "Выйти",
        "wrong_login": "Неверный логин или пароль",
        "overview": "Обзор",
        "leads": "Заявки",
        "tasks": "Задачи",
        "unmatched": "Платежи без заявки",
        "unmatched_help": "Выигранные сделки, которые CRM прислала без нашей заявки."
        " Укажите, чья это оплата.",
        "crm_ref": "Сделка в CRM",
        "attach": "Привязать",
        "lead_id": "ID заявки",
        "amount": "Сумма",
        "total_leads": "Всего заявок",
        "total_events": "Всего событий",
        "campaigns": "Кампании",
        "campaign": "Кампания",
        "delivered": "Доставлено",
        "payments": "Оплаты",
        "revenue": "Выручка",
        "conversion": "Конверсия в оплату",
        "uploaded": "Загружено в Метрику",
        "linked": "Связано с визитом",
        "latest_leads": "Последние заявки",
        "latest_events": "Последние события",
        "health": "Доставка",
        "pending": "В очереди",
        "processing": "В работе",
        "failed": "Ошибки",
        "oldest_pending": "Самая старая в очереди",
        "failing": {
            "one": "Подключение {name}: {count} задача с ошибкой",
            "few": "Подключение {name}: {count} задачи с ошибками",
            "many": "Подключение {name}: {count} задач с ошибками",
            "other": "Подключение {name}: {count} задачи с ошибками",
        },
        "connections": "Подключения к CRM",
        "connection": "Подключение",
        "kind": "Тип",
        "credentials": "Доступ",
        "expires": "Истекает",
        "credentials_long_lived": "долгосрочный токен",
        "credentials_oauth": "OAuth: токены в базе, обновляются сами",
        "credentials_not_authorized": (
            "OAuth: нет токенов — выполните leadrelay amocrm authorize {name} --code …"
        ),
        "credentials_refused": "OAuth: CRM отказала в обновлении токена",
        "credentials_configured": "ключ в конфигурации",
        "unrouted": {
            "one": "Для кампании не настроена CRM: {count} задача с ошибкой",
            "few": "Для кампании не настроена CRM: {count} задачи с ошибками",
            "many": "Для кампании не настроена CRM: {count} задач с ошибками",
            "other": "Для кампании не настроена CRM: {count} задачи с ошибками",
        },
        "reconcile_failing": {
            "one": "Сверка с {name} не удалась {count} раз: {reason}",
            "few": "Сверка с {name} не удаётся {count} раза подряд: {reason}",
            "many": "Сверка с {name} не удаётся {count} раз подряд: {reason}",
            "other": "Сверка с {name} не удаётся {count} раза подряд: {reason}",
        },
        "reconcile_skipped": {
            "one": "Сверка с {name} пропустила {count} нечитаемую запись",
            "few": "Сверка с {name} пропустила {count} нечитаемые записи",
            "many": "Сверка с {name} пропустила {count} нечитаемых записей",
            "other": "Сверка с {name} пропустила {count} нечитаемой записи",
        },
        "webhook_off": "Вебхук {name}: {reason}",
        "charts": "За 30 дней",
        "per_day_leads": "Заявки по дням",
        "per_day_payments": "Оплаты по дням",
        "per_day_revenue": "Выручка по дням",
        "status": "Статус",
        "created": "Создана",
        "name": "Имя",
        "phone": "Телефон",
        "email": "Email",
        "filter": "Показать",
        "from": "С",
        "to": "По",
        "any": "любой",
        "export": "Скачать CSV",
        "next": "Дальше",
        "previous": "Назад",
        "lead": "Заявка",
        "fields": "Поля",
        "warnings": "Принята без этих полей (или с укороченными)",
        "timeline": "История событий",
        "stored": "Сохранено",
        "rebuilt": "Из событий",
        "agree": "Проекция совпадает с событиями",
        "disagree": "Проекция расходится с событиями",
        "type": "Тип",
        "time": "Время",
        "data": "Данные",
        "task": "Задача",
        "attempts": "Попытки",
        "last_error": "Последняя ошибка",
        "retry": "Повторить",
        "retry_all": "Повторить все с ошибками",
        "nothing": "Пусто",
        "seconds": "с",
        "language": "English",
        "status_new": "новая",
        "status_sent_to_crm": "в CRM",
        "status_crm_failed": "ошибка CRM",
        "status_paid": "оплачена",
        "status_lost": "отказ",
        "status_merged": "объединена в CRM",
        # Costs and ROMI (issue 17): the overview's campaign table for a period.
        "campaigns_period": "Кампании с {date_from} по {date_to}",
        "delivery_all_time": "Доставка и Метрика по кампаниям, за всё время",
        "lost_leads": "Отказы",
        "cost": "Расход",
        "clicks": "Клики",
        "cpl": "Цена заявки",
        "cost_per_sale": "Цена продажи",
        "romi": "ROMI",
        "total": "Итого",
        "no_revenue": "расход без выручки",
        "direct_campaign": "Директ: {name}",
    },
    "en": {
        "title": "leadrelay — dashboard",
        "login": "Log in",
        "username": "Username",
        "password": "Password",
        "sign_in": "Log in",
        "logout": "Log out",
        "wrong_login": "Wrong username or password",
        "overview": "Overview",
        "leads": "Leads",
        "tasks": "Tasks",
        "unmatched": "Unmatched payments",
        "unmatched_help": "Won deals a CRM reported that match none of our leads."
        " Say whose payment each is.",
        "crm_ref": "CRM deal",
        "attach": "Attach",
        "lead_id": "Lead id",
        "amount": "Amount",
        "total_leads": "Total leads",
        "total_events": "Total events",
        "campaigns": "Campaigns",
        "campaign": "Campaign",
        "delivered": "Delivered",
        "payments": "Payments",
        "revenue": "Revenue",
        "conversion": "Lead → payment",
        "uploaded": "Uploaded to Metrica",
        "linked": "Linked to a visit",
        "latest_leads": "Latest leads",
        "latest_events": "Latest events",
        "health": "Delivery health",
        "pending": "Pending",
        "processing": "Processing",
        "failed": "Failed",
        "oldest_pending": "Oldest pending",
        "failing": {
            "one": "Connection {name}: {count} task with errors",
            "other": "Connection {name}: {count} tasks with errors",
        },
        "connections": "CRM connections",
        "connection": "Connection",
        "kind": "Kind",
        "credentials": "Credentials",
        "expires": "Expires",
        "credentials_long_lived": "long-lived token",
        "credentials_oauth": "OAuth: tokens in the database, refreshed automatically",
        "credentials_not_authorized": (
            "OAuth: no tokens yet — run leadrelay amocrm authorize {name} --code …"
        ),
        "credentials_refused": "OAuth: the CRM refused to refresh the token",
        "credentials_configured": "secret in the configuration",
        "unrouted": {
            "one": "No CRM is routed for a campaign: {count} task with errors",
            "other": "No CRM is routed for a campaign: {count} tasks with errors",
        },
        "reconcile_failing": {
            "one": "Reconciliation with {name} failed {count} round: {reason}",
            "other": "Reconciliation with {name} failed {count} rounds in a row: {reason}",
        },
        "reconcile_skipped": {
            "one": "Reconciliation with {name} skipped {count} record it could not read",
            "other": "Reconciliation with {name} skipped {count} records it could not read",
        },
        "webhook_off": "Webhook of {name}: {reason}",
        "charts": "Last 30 days",
        "per_day_leads": "Leads per day",
        "per_day_payments": "Payments per day",
        "per_day_revenue": "Revenue per day",
        "status": "Status",
        "created": "Created",
        "name": "Name",
        "phone": "Phone",
        "email": "Email",
        "filter": "Show",
        "from": "From",
        "to": "To",
        "any": "any",
        "export": "Download CSV",
        "next": "Next",
        "previous": "Previous",
        "lead": "Lead",
        "fields": "Fields",
        "warnings": "Accepted without these fields (or with them shortened)",
        "timeline": "Event timeline",
        "stored": "Stored",
        "rebuilt": "From events",
        "agree": "The projection agrees with the events",
        "disagree": "The projection differs from the events",
        "type": "Type",
        "time": "Time",
        "data": "Data",
        "task": "Task",
        "attempts": "Attempts",
        "last_error": "Last error",
        "retry": "Retry",
        "retry_all": "Retry all failed",
        "nothing": "Nothing here",
        "seconds": "s",
        "language": "Русский",
        "status_new": "new",
        "status_sent_to_crm": "in CRM",
        "status_crm_failed": "CRM failed",
        "status_paid": "paid",
        "status_lost": "lost",
        "status_merged": "merged in CRM",
        # Costs and ROMI (issue 17): the overview's campaign table for a period.
        "campaigns_period": "Campaigns from {date_from} to {date_to}",
        "delivery_all_time": "Delivery and Metrica per campaign, all time",
        "lost_leads": "Lost",
        "cost": "Cost",
        "clicks": "Clicks",
        "cpl": "Cost per lead",
        "cost_per_sale": "Cost per sale",
        "romi": "ROMI",
        "total": "Total",
        "no_revenue": "cost, no revenue",
        "direct_campaign": "Direct: {name}",
    },
}


# Identifiers in words: statuses, event and task types, connection kinds, field names.
NAMES: dict[str, dict[str, Text]] = {
    "ru": {
        "taskstatus_pending": "в очереди",
        "taskstatus_processing": "выполняется",
        "taskstatus_completed": "выполнена",
        "taskstatus_failed": "ошибка",
        "tasktype_send_to_crm": "Отправка в CRM",
        "tasktype_send_to_yandex_direct": "Отправка оплаты в Метрику",
        "tasktype_resolve_crm_deal": "Чтение сделки из CRM",
        "tasktype_check_yandex_upload": "Проверка загрузки в Метрике",
        "tasktype_import_direct_costs": "Загрузка расходов из Директа",
        "tasktype_send_alert": "Оповещение в Telegram или на почту",
        "event_LEAD_CREATED": "Заявка получена",
        "event_LEAD_REPEATED": "Повторная отправка формы",
        "event_LEAD_SENT_TO_CRM": "Передана в CRM",
        "event_LEAD_CRM_DELIVERY_FAILED": "Не доставлена в CRM",
        "event_PAYMENT_REGISTERED": "Оплата",
        "event_PAYMENT_AMOUNT_SET": "Указана сумма оплаты",
        "event_PAYMENT_CORRECTED": "Сумма оплаты изменена",
        "event_PAYMENT_REVERSED": "Оплата отменена",
        "event_LEAD_LOST": "Сделка проиграна",
        "event_YANDEX_DIRECT_CONVERSION": "Отправлена в Метрику",
        "event_YANDEX_CONVERSION_SKIPPED": "Не отправлена в Метрику",
        "event_YANDEX_CONVERSION_FAILED": "Метрика не приняла",
        "event_YANDEX_CONVERSION_PROCESSED": "Метрика обработала",
        "event_LEAD_MERGED_IN_CRM": "Объединена в CRM",
        "event_DIRECT_COST_REPORTED": "Расходы Директа за день",
        "kind_amocrm": "amoCRM",
        "kind_bitrix24": "Битрикс24",
        "kind_generic": "HTTP-приёмник",
        "kind_metrica": "Яндекс Метрика",
        "crm_noun_amocrm": "сделка",
        "crm_noun_bitrix24": "лид",
        "crm_noun_generic": "запись",
        "conversion_uploaded": "отправлена в Метрику",
        "conversion_skipped": "не отправлена в Метрику",
        "conversion_failed": "Метрика не приняла",
        "conversion_linked": "Метрика связала с визитом",
        "conversion_not_linked": "Метрика не нашла визит",
        "conversion_partly_linked": "Метрика связала часть загрузки",
        "conversion_unconfirmed": "связь с визитом неизвестна",
        "field_id": "Номер заявки",
        "field_campaign_id": "Кампания",
        "field_status": "Статус",
        "field_name": "Имя",
        "field_phone": "Телефон",
        "field_email": "E-mail",
        "field_comment": "Комментарий",
        "field_utm_source": "Источник (utm_source)",
        "field_utm_medium": "Канал (utm_medium)",
        "field_utm_campaign": "Рекламная кампания (utm_campaign)",
        "field_utm_content": "Объявление (utm_content)",
        "field_utm_term": "Ключевое слово (utm_term)",
        "field_yclid": "Клик Директа (yclid)",
        "field_ym_client_id": "Посетитель Метрики (ClientID)",
        "field_page_url": "Страница",
        "field_referrer": "Откуда перешёл",
        "field_extra": "Ответы и другие поля",
        "field_crm_connection": "Подключение CRM",
        "field_crm_lead_id": "Номер в CRM",
        "field_last_error": "Последняя ошибка",
        "field_payment_amount": "Сумма оплаты",
        "field_payment_currency": "Валюта оплаты",
        "field_paid_at": "Оплачена",
        "field_conversion_status": "Метрика",
        "field_created_at": "Создана",
        "field_updated_at": "Изменена",
        "field_version": "Версия",
        "field_warnings": "Предупреждения",
        "field_payment_pending": "Сумма ещё не указана",
        "field_payment_deal_id": "Сделка оплаты в CRM",
    },
    "en": {
        "taskstatus_pending": "queued",
        "taskstatus_processing": "running",
        "taskstatus_completed": "done",
        "taskstatus_failed": "failed",
        "tasktype_send_to_crm": "Send to the CRM",
        "tasktype_send_to_yandex_direct": "Send the payment to Metrica",
        "tasktype_resolve_crm_deal": "Read a deal from the CRM",
        "tasktype_check_yandex_upload": "Check an upload in Metrica",
        "tasktype_import_direct_costs": "Import costs from Direct",
        "tasktype_send_alert": "Alert to Telegram or e-mail",
        "event_LEAD_CREATED": "Lead received",
        "event_LEAD_REPEATED": "Form sent again",
        "event_LEAD_SENT_TO_CRM": "Delivered to the CRM",
        "event_LEAD_CRM_DELIVERY_FAILED": "Not delivered to the CRM",
        "event_PAYMENT_REGISTERED": "Payment",
        "event_PAYMENT_AMOUNT_SET": "Payment amount set",
        "event_PAYMENT_CORRECTED": "Payment amount changed",
        "event_PAYMENT_REVERSED": "Payment undone",
        "event_LEAD_LOST": "Deal lost",
        "event_YANDEX_DIRECT_CONVERSION": "Sent to Metrica",
        "event_YANDEX_CONVERSION_SKIPPED": "Not sent to Metrica",
        "event_YANDEX_CONVERSION_FAILED": "Refused by Metrica",
        "event_YANDEX_CONVERSION_PROCESSED": "Processed by Metrica",
        "event_LEAD_MERGED_IN_CRM": "Merged in the CRM",
        "event_DIRECT_COST_REPORTED": "Direct's costs of a day",
        "kind_amocrm": "amoCRM",
        "kind_bitrix24": "Bitrix24",
        "kind_generic": "HTTP receiver",
        "kind_metrica": "Yandex Metrica",
        "crm_noun_amocrm": "deal",
        "crm_noun_bitrix24": "lead",
        "crm_noun_generic": "record",
        "conversion_uploaded": "sent to Metrica",
        "conversion_skipped": "not sent to Metrica",
        "conversion_failed": "refused by Metrica",
        "conversion_linked": "linked to a visit by Metrica",
        "conversion_not_linked": "no visit found by Metrica",
        "conversion_partly_linked": "partly linked by Metrica",
        "conversion_unconfirmed": "link to a visit unknown",
        "field_id": "Lead number",
        "field_campaign_id": "Campaign",
        "field_status": "Status",
        "field_name": "Name",
        "field_phone": "Phone",
        "field_email": "E-mail",
        "field_comment": "Comment",
        "field_utm_source": "Source (utm_source)",
        "field_utm_medium": "Medium (utm_medium)",
        "field_utm_campaign": "Ad campaign (utm_campaign)",
        "field_utm_content": "Ad (utm_content)",
        "field_utm_term": "Keyword (utm_term)",
        "field_yclid": "Direct click (yclid)",
        "field_ym_client_id": "Metrica visitor (ClientID)",
        "field_page_url": "Page",
        "field_referrer": "Came from",
        "field_extra": "Answers and other fields",
        "field_crm_connection": "CRM connection",
        "field_crm_lead_id": "Number in the CRM",
        "field_last_error": "Last error",
        "field_payment_amount": "Payment amount",
        "field_payment_currency": "Payment currency",
        "field_paid_at": "Paid",
        "field_conversion_status": "Metrica",
        "field_created_at": "Created",
        "field_updated_at": "Changed",
        "field_version": "Version",
        "field_warnings": "Warnings",
        "field_payment_pending": "Amount not set yet",
        "field_payment_deal_id": "Paying deal in the CRM",
    },
}

# The lead card: its history as sentences, where the lead came from, what to do with it.
CARD: dict[str, dict[str, Text]] = {
    "ru": {
        "unnamed": "Заявка без имени",
        "lead_from": "Заявка от {when}",
        "contacts": "Контакты",
        "source": "Источник",
        "no_contacts": "нет",
        "about": "О заявке",
        "answers": "Ответы и другие поля",
        "history": "История",
        "open_in_crm": "Открыть в {crm}",
        "open_payment_in_crm": "Открыть оплатившую сделку",
        "send_again": "Отправить в CRM ещё раз",
        "send_again_help": "Заявка не дошла до CRM. После исправления причины отправьте её снова.",
        "delivery_queued": "Отправка в CRM в очереди: следующая попытка {when}",
        "technical": "Технические подробности: поля, события, сверка с журналом",
        "raw_events": "События как они хранятся",
        "source_direct_ad": "Реклама в Яндекс Директе",
        "source_utm": "{source}",
        "source_referrer": "Переход с {host}",
        "source_none": "Без меток и без ссылки: прямой заход или форма без UTM",
        "source_page": "со страницы {host}",
        "src_yandex": "Яндекс",
        "src_google": "Google",
        "src_vk": "ВКонтакте",
        "src_telegram": "Telegram",
        "medium_cpc": "реклама",
        "medium_organic": "поиск",
        "medium_email": "рассылка",
        "medium_social": "соцсети",
        "tl_created": "Заявка получена, кампания «{campaign}»",
        "tl_repeated": "Клиент отправил форму ещё раз",
        "tl_sent": "Передана в {crm} как {noun} {ref}",
        "tl_sent_no_ref": "Передана в {crm}",
        "tl_sent_merged": "{crm} объединила её с существующей записью {ref}",
        "tl_sent_problems": "Передана, но с замечаниями",
        "tl_failed": "Не доставлена в {crm}: {why}",
        "tl_failed_unrouted": "Не доставлена: для кампании не выбрана CRM",
        "tl_paid": "Оплачена: {amount}",
        "tl_paid_pending": "Сделка выиграна, сумма пока не указана",
        "tl_paid_by_hand": "Оплата {amount} привязана к заявке вручную",
        "tl_amount_set": "Указана сумма оплаты: {amount}",
        "tl_corrected": "Сумма оплаты изменена: {amount} вместо {previous}",
        "tl_reversed_reopened": "Оплата {amount} отменена: сделка снова в работе",
        "tl_reversed_lost": "Оплата {amount} отменена: сделка проиграна",
        "tl_reversed_deleted": "Оплата {amount} отменена: сделка удалена в CRM",
        "tl_lost": "Сделка проиграна",
        "tl_uploaded": "Оплата отправлена в Яндекс Метрику",
        "tl_skipped": "Оплата не отправлена в Метрику: {why}",
        "tl_conversion_failed": "Метрика не приняла оплату",
        "tl_processed_all": "Метрика связала оплату с визитом",
        "tl_processed_none": "Метрика не нашла визит для этой оплаты",
        "tl_processed_some": "Метрика связала с визитами только часть загрузки",
        "tl_processed_unknown": "Не удалось узнать, связала ли Метрика оплату с визитом",
        "tl_merged": "{crm} объединила её с другой нашей заявкой",
        "skip_no_ids": "у заявки нет ни yclid, ни ClientID Метрики",
        "skip_not_configured": "Метрика не настроена",
        "skip_not_paid": "заявка не оплачена",
        "skip_too_late": "оплата слишком поздняя для Метрики",
        "skip_other": "причина ниже",
        "warn_intro": "Заявка принята без этих полей (или с укороченными):",
        "warn_cut": "обрезано до {count} символов",
        "warn_phone": "не похоже на номер телефона",
        "warn_email": "не похоже на адрес e-mail",
        "warn_pattern": "недопустимые символы",
        "warn_not_text": "пришло не текстом",
        "warn_url": "не ссылка, UTM-метки из неё не прочитаны",
        "warn_too_long": "слишком длинное",
        "warn_other": "не принято",
        "warn_was": "было",
        "lead_not_found": "Заявка «{lead}» не найдена",
        "nothing_to_send": "Отправлять нечего: заявка уже в очереди или уже в CRM",
        "pay_lead_paid": "Заявка «{lead}» уже оплачена",
        "pay_already_attached": "Эта оплата уже привязана к заявке",
    },
    "en": {
        "unnamed": "Lead without a name",
        "lead_from": "Lead of {when}",
        "contacts": "Contacts",
        "source": "Source",
        "no_contacts": "none",
        "about": "About the lead",
        "answers": "Answers and other fields",
        "history": "History",
        "open_in_crm": "Open in {crm}",
        "open_payment_in_crm": "Open the paying deal",
        "send_again": "Send to the CRM again",
        "send_again_help": (
            "The lead did not reach the CRM. Once the cause is fixed, send it again."
        ),
        "delivery_queued": "Delivery to the CRM is queued: next try {when}",
        "technical": "Technical details: fields, events, check against the log",
        "raw_events": "Events as stored",
        "source_direct_ad": "Yandex Direct ad",
        "source_utm": "{source}",
        "source_referrer": "From {host}",
        "source_none": "No tags and no referrer: a direct visit or a form without UTM",
        "source_page": "on {host}",
        "src_yandex": "Yandex",
        "src_google": "Google",
        "src_vk": "VK",
        "src_telegram": "Telegram",
        "medium_cpc": "ads",
        "medium_organic": "search",
        "medium_email": "e-mail",
        "medium_social": "social",
        "tl_created": "Lead received, campaign “{campaign}”",
        "tl_repeated": "The client sent the form again",
        "tl_sent": "Delivered to {crm} as {noun} {ref}",
        "tl_sent_no_ref": "Delivered to {crm}",
        "tl_sent_merged": "{crm} joined it to its existing record {ref}",
        "tl_sent_problems": "Delivered, with remarks",
        "tl_failed": "Not delivered to {crm}: {why}",
        "tl_failed_unrouted": "Not delivered: no CRM is set for its campaign",
        "tl_paid": "Paid {amount}",
        "tl_paid_pending": "Deal won; the amount is not set yet",
        "tl_paid_by_hand": "Payment of {amount} attached to the lead by hand",
        "tl_amount_set": "Payment amount set: {amount}",
        "tl_corrected": "Payment changed to {amount} (was {previous})",
        "tl_reversed_reopened": "Payment of {amount} undone: the deal is open again",
        "tl_reversed_lost": "Payment of {amount} undone: the deal was lost",
        "tl_reversed_deleted": "Payment of {amount} undone: the deal was deleted in the CRM",
        "tl_lost": "Deal lost",
        "tl_uploaded": "Payment sent to Yandex Metrica",
        "tl_skipped": "Payment not sent to Metrica: {why}",
        "tl_conversion_failed": "Metrica refused the payment",
        "tl_processed_all": "Metrica linked the payment to a visit",
        "tl_processed_none": "Metrica found no visit for this payment",
        "tl_processed_some": "Metrica linked only part of the upload to visits",
        "tl_processed_unknown": "Could not learn whether Metrica linked the payment to a visit",
        "tl_merged": "{crm} joined it to another of our leads",
        "skip_no_ids": "the lead has neither a yclid nor a Metrica ClientID",
        "skip_not_configured": "Metrica is not configured",
        "skip_not_paid": "the lead is not paid",
        "skip_too_late": "the payment is too late for Metrica",
        "skip_other": "see the reason below",
        "warn_intro": "The lead was accepted without these fields (or with them shortened):",
        "warn_cut": "cut to {count} characters",
        "warn_phone": "not a phone number",
        "warn_email": "not an e-mail address",
        "warn_pattern": "characters that are not allowed",
        "warn_not_text": "was not text",
        "warn_url": "not a link; its UTM tags were not read",
        "warn_too_long": "too long",
        "warn_other": "not accepted",
        "warn_was": "was",
        "lead_not_found": "Lead “{lead}” does not exist",
        "nothing_to_send": "Nothing to send: the lead is already queued or in the CRM",
        "pay_lead_paid": "Lead “{lead}” is already paid",
        "pay_already_attached": "This payment is already attached to a lead",
    },
}

# Tasks, the queue and connections: what happened, in words.
QUEUE: dict[str, dict[str, Text]] = {
    "ru": {
        "due_now": {
            "one": "К выполнению сейчас: {count} задача",
            "few": "К выполнению сейчас: {count} задачи",
            "many": "К выполнению сейчас: {count} задач",
            "other": "К выполнению сейчас: {count} задачи",
        },
        "due_late": "дольше всех ждёт: {age}",
        "waiting": {
            "one": "Ждёт своего времени {count} задача",
            "few": "Ждут своего времени {count} задачи",
            "many": "Ждут своего времени {count} задач",
            "other": "Ждут своего времени {count} задачи",
        },
        "wait_retry": {
            "one": "{count} повтор после ошибки",
            "few": "{count} повтора после ошибки",
            "many": "{count} повторов после ошибки",
            "other": "{count} повтора после ошибки",
        },
        "wait_check": {
            "one": "{count} проверка загрузки в Метрике",
            "few": "{count} проверки загрузки в Метрике",
            "many": "{count} проверок загрузки в Метрике",
            "other": "{count} проверки загрузки в Метрике",
        },
        "wait_other": {
            "one": "{count} отложенная задача",
            "few": "{count} отложенные задачи",
            "many": "{count} отложенных задач",
            "other": "{count} отложенной задачи",
        },
        "wait_next": "ближайшая {when}",
        "in_work": {
            "one": "Выполняется {count} задача",
            "few": "Выполняются {count} задачи",
            "many": "Выполняются {count} задач",
            "other": "Выполняются {count} задачи",
        },
        "failed_n": {
            "one": "С ошибкой {count} задача",
            "few": "С ошибкой {count} задачи",
            "many": "С ошибкой {count} задач",
            "other": "С ошибкой {count} задачи",
        },
        "queue_idle": "Очередь пуста: всё сделано",
        "needing_attention": "Требуют внимания",
        "client": "Клиент",
        "crm": "CRM",
        "updated": "Изменена",
        "attempts_of": "{attempts} из {most}",
        "retrying": "повторится {when}",
        "stuck": "зависла",
        "flash_retried": {
            "one": "Снова в очереди: {count} задача",
            "few": "Снова в очереди: {count} задачи",
            "many": "Снова в очереди: {count} задач",
            "other": "Снова в очереди: {count} задачи",
        },
        "flash_retried_none": "Задач с ошибками не было: ничего не повторено",
        "flash_task_retried": "Задача {task} снова в очереди",
        "flash_task_not_failed": "Задача {task} не в ошибке: повторять нечего",
        "flash_sent_again": "Заявка снова поставлена в очередь на отправку в CRM",
        "flash_attached": "Оплата {amount} привязана к заявке «{lead}»",
        "why_refused": "CRM отказала: HTTP {status}",
        "why_credentials": "CRM отклонила ключ доступа (HTTP {status})",
        "why_credentials_refresh": "CRM отказала в обновлении OAuth-токена",
        "why_credentials_missing": "нет OAuth-токенов: выполните leadrelay amocrm authorize",
        "why_timeout": "CRM не ответила вовремя",
        "why_unreachable": "CRM недоступна: нет соединения",
        "why_server": "ошибка на стороне CRM (HTTP {status})",
        "why_rate_limited": "CRM просит подождать: слишком много запросов (HTTP {status})",
        "why_redirect": "адрес CRM перенаправляет (HTTP {status}); исправьте адрес в настройках",
        "why_unrouted": "для кампании не выбрана CRM",
        "why_gone": "заявки этой задачи нет",
        "why_other": "ошибка, подробности ниже",
        "banner": {
            "one": "{crm}: {why} — {count} заявка не доставлена",
            "few": "{crm}: {why} — {count} заявки не доставлены",
            "many": "{crm}: {why} — {count} заявок не доставлено",
            "other": "{crm}: {why} — {count} заявки не доставлено",
        },
        "banner_unrouted": {
            "one": "{count} заявка не доставлена: для её кампании не выбрана CRM",
            "few": "{count} заявки не доставлены: для их кампаний не выбрана CRM",
            "many": "{count} заявок не доставлено: для их кампаний не выбрана CRM",
            "other": "{count} заявки не доставлено: для их кампаний не выбрана CRM",
        },
        "connection_ok": "Ошибок доставки нет",
        "last_failure": "Последняя ошибка {when}",
        "expires_at": "Истекает",
        "zone_note": "Время: {zone}",
    },
    "en": {
        "due_now": {
            "one": "Due now: {count} task",
            "other": "Due now: {count} tasks",
        },
        "due_late": "the longest wait: {age}",
        "waiting": {
            "one": "{count} task waits for its time",
            "other": "{count} tasks wait for their time",
        },
        "wait_retry": {
            "one": "{count} retry after an error",
            "other": "{count} retries after errors",
        },
        "wait_check": {
            "one": "{count} check of a Metrica upload",
            "other": "{count} checks of Metrica uploads",
        },
        "wait_other": {
            "one": "{count} deferred task",
            "other": "{count} deferred tasks",
        },
        "wait_next": "next {when}",
        "in_work": {
            "one": "{count} task running",
            "other": "{count} tasks running",
        },
        "failed_n": {
            "one": "{count} task failed",
            "other": "{count} tasks failed",
        },
        "queue_idle": "The queue is empty: all done",
        "needing_attention": "Needing attention",
        "client": "Client",
        "crm": "CRM",
        "updated": "Changed",
        "attempts_of": "{attempts} of {most}",
        "retrying": "retries {when}",
        "stuck": "stuck",
        "flash_retried": {
            "one": "Queued again: {count} task",
            "other": "Queued again: {count} tasks",
        },
        "flash_retried_none": "No task had failed: nothing was retried",
        "flash_task_retried": "Task {task} is queued again",
        "flash_task_not_failed": "Task {task} has not failed: nothing to retry",
        "flash_sent_again": "The lead is queued for delivery to the CRM again",
        "flash_attached": "Payment of {amount} attached to lead “{lead}”",
        "why_refused": "the CRM refused with HTTP {status}",
        "why_credentials": "the CRM rejected the credentials (HTTP {status})",
        "why_credentials_refresh": "the CRM refused to refresh the OAuth token",
        "why_credentials_missing": "no OAuth tokens yet: run leadrelay amocrm authorize",
        "why_timeout": "the CRM is not answering in time",
        "why_unreachable": "the CRM cannot be reached",
        "why_server": "the CRM failed (HTTP {status})",
        "why_rate_limited": "the CRM asks to slow down: too many requests (HTTP {status})",
        "why_redirect": "the CRM's address redirects (HTTP {status}); fix it in the configuration",
        "why_unrouted": "no CRM is set for the campaign",
        "why_gone": "the task's lead does not exist",
        "why_other": "an error, details below",
        "banner": {
            "one": "{crm}: {why} — {count} lead not delivered",
            "other": "{crm}: {why} — {count} leads not delivered",
        },
        "banner_unrouted": {
            "one": "{count} lead not delivered: no CRM is set for its campaign",
            "other": "{count} leads not delivered: no CRM is set for their campaigns",
        },
        "connection_ok": "No delivery errors",
        "last_failure": "Last error {when}",
        "expires_at": "Expires",
        "zone_note": "Times: {zone}",
    },
}

# Error pages: what went wrong, in the reader's language.
ERRORS: dict[str, dict[str, Text]] = {
    "ru": {
        "error_back": "На главную",
        "error_details": "Подробности",
        "error_400": "Запрос не понят",
        "error_401": "Нужно войти",
        "error_403": "Нет доступа",
        "error_404": "Страница не найдена",
        "error_405": "Так эту страницу не открыть",
        "error_408": "Запрос шёл слишком долго",
        "error_409": "Так нельзя: данные уже изменились",
        "error_413": "Слишком большой запрос",
        "error_422": "Проверьте введённые данные",
        "error_429": "Слишком много попыток",
        "error_500": "Что-то сломалось",
        "error_503": "База данных занята, попробуйте ещё раз",
        "error_title_csrf": "Форма устарела",
        "error_title_lead_not_found": "Заявка не найдена",
        "error_text_csrf": (
            "Её открыли до нового входа или слишком давно. Обновите страницу и повторите."
        ),
        "error_text_lead_not_found": "Такой заявки нет. Возможно, ссылка неполная.",
        "error_text_not_found": "По этому адресу ничего нет.",
        "error_text_rate_limited": (
            "Слишком много неудачных попыток входа. Подождите {wait} и попробуйте снова."
        ),
        "error_text_forbidden": "Это действие вам недоступно.",
        "error_text_invalid_field": "Что-то введено не так:",
        "error_text_internal": "Ошибка записана в журнал. Попробуйте ещё раз чуть позже.",
        "error_text_other": "Попробуйте ещё раз или вернитесь на главную.",
        "wait_seconds": {
            "one": "{count} секунду",
            "few": "{count} секунды",
            "many": "{count} секунд",
            "other": "{count} секунды",
        },
        "must_be_date": "нужна дата ГГГГ-ММ-ДД",
        "must_be_whole": "нужно целое число",
        "must_be_status": "нужен один из статусов",
        "must_be_other": "недопустимое значение",
        "field_date_from": "С даты",
        "field_date_to": "По дату",
        "field_limit": "Сколько показать",
        "field_offset": "С какой по счёту",
        "field_lead_id": "Заявка",
    },
    "en": {
        "error_back": "To the overview",
        "error_details": "Details",
        "error_400": "The request was not understood",
        "error_401": "Please log in",
        "error_403": "Not allowed",
        "error_404": "Page not found",
        "error_405": "This page cannot be opened that way",
        "error_408": "The request took too long",
        "error_409": "Not possible: the data has changed",
        "error_413": "The request is too large",
        "error_422": "Please check what you entered",
        "error_429": "Too many attempts",
        "error_500": "Something broke",
        "error_503": "The database is busy; please try again",
        "error_title_csrf": "The form is out of date",
        "error_title_lead_not_found": "Lead not found",
        "error_text_csrf": (
            "It was opened before a new login, or too long ago. Reload the page and try again."
        ),
        "error_text_lead_not_found": "There is no such lead. The link may be incomplete.",
        "error_text_not_found": "There is nothing at this address.",
        "error_text_rate_limited": "Too many failed logins. Wait {wait} and try again.",
        "error_text_forbidden": "You may not do this.",
        "error_text_invalid_field": "Something was entered wrongly:",
        "error_text_internal": "The error has been logged. Please try again a little later.",
        "error_text_other": "Try again, or go back to the overview.",
        "wait_seconds": {
            "one": "{count} second",
            "other": "{count} seconds",
        },
        "must_be_date": "a date YYYY-MM-DD is needed",
        "must_be_whole": "a whole number is needed",
        "must_be_status": "one of the statuses is needed",
        "must_be_other": "a value that is not allowed",
        "field_date_from": "From date",
        "field_date_to": "To date",
        "field_limit": "How many",
        "field_offset": "Starting at",
        "field_lead_id": "Lead",
    },
}

# Who may do what (services/dashboard/access.py): a staff member's refused action.
ACCESS: dict[str, dict[str, Text]] = {
    "ru": {
        "forbidden_title": "Недостаточно прав",
        "admin_only": "{action} может только администратор. Вы вошли как {name}, сотрудник.",
        "action_retry_all": "Повторить все задачи с ошибками",
        "action_other": "Это действие",
        "forbidden_ask": "Попросите администратора или войдите под его учётной записью.",
        "forbidden_back": "К обзору",
    },
    "en": {
        "forbidden_title": "Not allowed",
        "admin_only": "{action} is for an admin. You are logged in as {name}, staff.",
        "action_retry_all": "Retrying every failed task",
        "action_other": "This action",
        "forbidden_ask": "Ask an admin, or log in as one.",
        "forbidden_back": "Back to the overview",
    },
}

# The reports (services/dashboard/reports.py): the UTM report, the per-day table, the exports.
REPORTS: dict[str, dict[str, Text]] = {
    "ru": {
        "nav_utm": "UTM-метки",
        "nav_days": "По дням",
        "utm_title": "Заявки по UTM-меткам с {date_from} по {date_to}",
        "days_title": "По дням с {date_from} по {date_to}",
        "utm_none": "(нет)",
        "utm_all": "Все заявки",
        "utm_only_campaign": "Только кампания {name}",
        "utm_any_campaign": "показать все кампании",
        "utm_sales_note": (
            "Оплаты и выручка здесь — у заявок этого периода, оплаченных к "
            "сегодняшнему дню (по дню заявки). В обзоре и в таблице по дням оплата "
            "считается в день оплаты, поэтому итоги могут не совпадать."
        ),
        "utm_cost_note": (
            "Расход Директа относится к нашим кампаниям, а не к UTM-меткам. Он "
            "показан только на уровне utm_campaign — в строке, где метка совпадает "
            "с нашей кампанией и содержит все её заявки за период; в остальных "
            "строках «—»."
        ),
        "days_note": (
            "Оплаты и выручка — в день оплаты, как в обзоре; отказы — в день "
            "заявки; расход — по дням Директа. Дни — в часовом поясе {zone}."
        ),
        "day": "День",
        "download_csv": "Скачать CSV",
        "download_xlsx": "Скачать XLSX",
        "days_sheet": "По дням",
        "utm_of_campaign": "UTM",
    },
    "en": {
        "nav_utm": "UTM report",
        "nav_days": "By day",
        "utm_title": "Leads by UTM, {date_from} to {date_to}",
        "days_title": "By day, {date_from} to {date_to}",
        "utm_none": "(none)",
        "utm_all": "All leads",
        "utm_only_campaign": "Campaign {name} only",
        "utm_any_campaign": "show every campaign",
        "utm_sales_note": (
            "Sales and revenue here are those of this period's leads, paid by today"
            " (counted on the lead's day). The overview and the per-day table count"
            " a payment on its payment day, so the totals may differ."
        ),
        "utm_cost_note": (
            "Direct's costs belong to our campaigns, not to UTM values. A cost is "
            "shown only at the utm_campaign level, on a line whose value is one of "
            "our campaigns and which holds all of that campaign's leads of the "
            "period; elsewhere it is “—”."
        ),
        "days_note": (
            "Sales and revenue on the payment's day, as on the overview; lost leads"
            " on the lead's day; costs on Direct's days. Days in the {zone} time "
            "zone."
        ),
        "day": "Day",
        "download_csv": "Download CSV",
        "download_xlsx": "Download XLSX",
        "days_sheet": "By day",
        "utm_of_campaign": "UTM",
    },
}

# The leads list's search and total, its exports, and finding a lead for an unmatched payment.
LISTS: dict[str, dict[str, Text]] = {
    "ru": {
        "search": "Поиск",
        "search_hint": "телефон, e-mail, имя или номер заявки",
        "field_q": "Поиск",
        "must_be_shorter": "нужно не больше 100 знаков",
        "leads_total": {
            "one": "{count} заявка",
            "few": "{count} заявки",
            "many": "{count} заявок",
            "other": "{count} заявки",
        },
        "leads_shown": "показаны {first}–{last}",
        "export_xlsx": "Скачать Excel (XLSX)",
        "export_other_answers": "Другие ответы",
        "export_cut": {
            "one": "Здесь первые {shown} из {count} заявки: больше строк на лист Excel не"
            " помещается. Все заявки есть в CSV.",
            "few": "Здесь первые {shown} из {count} заявок: больше строк на лист Excel не"
            " помещается. Все заявки есть в CSV.",
            "many": "Здесь первые {shown} из {count} заявок: больше строк на лист Excel не"
            " помещается. Все заявки есть в CSV.",
            "other": "Здесь первые {shown} из {count} заявки: больше строк на лист Excel не"
            " помещается. Все заявки есть в CSV.",
        },
        "yes": "да",
        "no": "нет",
        "find_lead": "Найти",
        "candidates": {
            "one": "Нашлась {count} заявка. Чья это оплата?",
            "few": "Нашлись {count} заявки. Чья это оплата?",
            "many": "Нашлись {count} заявок. Чья это оплата?",
            "other": "Нашлись {count} заявки. Чья это оплата?",
        },
        "candidates_more": "Показаны первые {shown}: уточните поиск, если нужной здесь нет.",
        "no_candidates": "По запросу «{typed}» заявок не нашлось",
        "attach_to": "Привязать к этой заявке",
    },
    "en": {
        "search": "Search",
        "search_hint": "phone, e-mail, name or lead number",
        "field_q": "Search",
        "must_be_shorter": "at most 100 characters",
        "leads_total": {
            "one": "{count} lead",
            "other": "{count} leads",
        },
        "leads_shown": "showing {first}–{last}",
        "export_xlsx": "Download Excel (XLSX)",
        "export_other_answers": "Other answers",
        "export_cut": {
            "one": "These are the first {shown} of {count} lead: an Excel sheet holds no more"
            " rows. The CSV has every lead.",
            "other": "These are the first {shown} of {count} leads: an Excel sheet holds no more"
            " rows. The CSV has every lead.",
        },
        "yes": "yes",
        "no": "no",
        "find_lead": "Find",
        "candidates": {
            "one": "{count} lead found. Whose payment is it?",
            "other": "{count} leads found. Whose payment is it?",
        },
        "candidates_more": "The first {shown} are shown: narrow the search if the one you need"
        " is not here.",
        "no_candidates": "No lead found for “{typed}”",
        "attach_to": "Attach to this lead",
    },
}

CATALOGUE: dict[str, dict[str, Text]] = {
    lang: {
        **TEXTS[lang],
        **NAMES[lang],
        **CARD[lang],
        **QUEUE[lang],
        **ERRORS[lang],
        **ACCESS[lang],
        **OVERVIEW[lang],
        **REPORTS[lang],
        **LISTS[lang],
        **AUDIT[lang],
        **ERASURE[lang],
        **ALERT_CHATS[lang],
        **DISMISSAL[lang],
    }
    for lang in LANGUAGES
}


def language(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT


class Words:
    """The dashboard's words and formats in one language, times in one zone: what the
    templates call `t` — t("key"), t("key", count=n) for a count, t.money(…), t.when(…)."""

    def __init__(self, lang: str, zone: ZoneInfo = UTC):
        self.lang = language(lang)
        self.zone = zone
        self.texts = CATALOGUE[self.lang]

    def __call__(self, key: str, count: int | None = None, **values: object) -> str:
        text = self.texts.get(key, key)
        if count is not None:
            values["count"] = formats.number(count, self.lang)
            if not isinstance(text, str):
                category = formats.plural_category(self.lang, count)
                text = text.get(category) or text["other"]
        if not isinstance(text, str):  # a plural entry asked without its count
            text = text["other"]
        return text.format(**values) if values else text

    def name(self, kind: str, value: object) -> str:
        """An identifier in words (`name("status", "crm_failed")`); the identifier itself
        when the catalogue has no word for it (a value a newer version wrote)."""
        key = f"{kind}_{value}"
        return self(key) if key in self.texts else str(value)

    def money(self, amount: Decimal | int | str | None, currency: str | None = None) -> str:
        return formats.money(amount, currency, self.lang)

    def minor(self, amount_minor: int, currency: str | None = None) -> str:
        return formats.minor(amount_minor, currency, self.lang)

    def number(self, value: int | float | Decimal) -> str:
        return formats.number(value, self.lang)

    def percent(self, value: float) -> str:
        return formats.percent(value, self.lang)

    def when(self, stored: str | None) -> str:
        return formats.when(stored, self.lang, self.zone)

    def day(self, stored: str | None) -> str:
        return formats.day(stored, self.lang, self.zone)

    def seconds(self, seconds: float) -> str:
        """A span for a person: «2 ч 5 мин», «3 min»."""
        return formats.span(seconds, self.lang)

    @property
    def zone_label(self) -> str:
        return formats.zone_label(self.zone)


def translator(lang: str, zone: ZoneInfo = UTC) -> Words:
    return Words(lang, zone)
