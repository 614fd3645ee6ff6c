"""Paved's portal app: settings, URLs, the Celery app, the base layout, auth and health."""

from __future__ import annotations

from portal.celery import app as celery_app

__all__ = ["celery_app"]
