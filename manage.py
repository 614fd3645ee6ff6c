#!/usr/bin/env python
"""Paved's command-line entry point."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # On a developer's machine manage.py runs in development mode; production sets DEBUG=false explicitly (README).
    # The web (portal.wsgi) and Celery (portal.celery) entry points keep the production-safe default.
    os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
