"""Dispatcher: delivers queued tasks to the CRMs and to Yandex."""
