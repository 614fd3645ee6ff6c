from __future__ import annotations

import secrets
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import import_string

DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = (
        "Prepare a local Paved for `make run`: create the demo admin (its password is printed once) and load "
        "the demo organisation. Safe to run again: an existing admin and unchanged demo files are left alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Create the admin only.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if not user_model.objects.filter(username=DEMO_ADMIN).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=DEMO_ADMIN, email="admin@example.com", password=password)
            banner = "=" * 64
            self.stdout.write(self.style.SUCCESS(banner))
            self.stdout.write(self.style.SUCCESS(f"  Demo admin created. Sign in as  {DEMO_ADMIN} / {password}"))
            self.stdout.write(self.style.SUCCESS("  (shown once; reset with: manage.py changepassword admin)"))
            self.stdout.write(self.style.SUCCESS(banner))
        else:
            self.stdout.write(f"Demo admin '{DEMO_ADMIN}' already exists (reset: manage.py changepassword admin).")
        if options["no_demo"]:
            return
        # Each app that ships demo data exposes `<app>.demo.load(stdout=...)`; the catalog holds the organisation.
        for config in apps.get_app_configs():
            if not config.name.startswith(("portal", "catalog", "scaffolder", "scorecards")):
                continue
            try:
                loader = import_string(f"{config.name}.demo.load")
            except ImportError:
                continue
            loader(stdout=self.stdout)
