"""The audit log's words (services.dashboard.audit_page), in Russian and English: part of the
one catalogue (services.dashboard.i18n). `did_<action>` names each action of common.audit."""

from __future__ import annotations

from collections.abc import Mapping

AUDIT: dict[str, dict[str, str | Mapping[str, str]]] = {
    "ru": {
        "nav_audit": "Журнал действий",
        "audit_title": "Журнал действий",
        "audit_help": (
            "Кто что сделал в панели и в командной строке: входы, повторы, выгрузки, привязки"
            " оплат, удаления данных. Новые сверху."
        ),
        "audit_when": "Когда ({zone})",
        "audit_actor": "Кто",
        "audit_action": "Действие",
        "audit_target": "С чем",
        "audit_address": "Откуда",
        "audit_details": "Подробности",
        "audit_sheet": "Журнал действий",
        "audit_older": "Раньше",
        "audit_newest": "К новым",
        "field_actor": "Кто",
        "field_action": "Действие",
        "field_before": "Страница",
        "action_audit": "Смотреть журнал действий",
        "action_audit_download": "Выгружать журнал действий",
        "did_login": "Вход",
        "did_login_failed": "Неудачный вход",
        "did_logout": "Выход",
        "did_retry": "Повтор отправки",
        "did_retry_all": "Повтор всех задач с ошибками",
        "did_erase": "Удаление данных человека",
        "did_export": "Выгрузка",
        "did_attach_payment": "Привязка оплаты",
        "did_acknowledge": "Проблема принята к сведению",
        "did_user_added": "Добавлен пользователь",
        "did_user_removed": "Удалён пользователь",
        "did_backup": "Резервная копия",
        "did_restore": "Восстановление из копии",
        "did_costs_import": "Загрузка расходов Директа",
        "did_rebuild": "Пересборка проекций",
        "did_authorize": "Подключение CRM по OAuth",
    },
    "en": {
        "nav_audit": "Audit log",
        "audit_title": "Audit log",
        "audit_help": (
            "Who did what in the dashboard and on the command line: logins, retries, exports,"
            " payments attached, data erased. Newest first."
        ),
        "audit_when": "When ({zone})",
        "audit_actor": "Who",
        "audit_action": "Action",
        "audit_target": "On what",
        "audit_address": "From",
        "audit_details": "Details",
        "audit_sheet": "Audit log",
        "audit_older": "Older",
        "audit_newest": "Newest",
        "field_actor": "Who",
        "field_action": "Action",
        "field_before": "Page",
        "action_audit": "Viewing the audit log",
        "action_audit_download": "Downloading the audit log",
        "did_login": "Logged in",
        "did_login_failed": "Failed login",
        "did_logout": "Logged out",
        "did_retry": "Sent again",
        "did_retry_all": "Retried every failed task",
        "did_erase": "A person's data erased",
        "did_export": "Download",
        "did_attach_payment": "Payment attached",
        "did_acknowledge": "Problem acknowledged",
        "did_user_added": "User added",
        "did_user_removed": "User removed",
        "did_backup": "Backup",
        "did_restore": "Restore",
        "did_costs_import": "Direct costs import queued",
        "did_rebuild": "Projections rebuilt",
        "did_authorize": "CRM authorized (OAuth)",
    },
}
