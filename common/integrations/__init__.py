"""Outgoing integrations: one CrmIntegration per CRM kind, and Yandex Metrica."""
