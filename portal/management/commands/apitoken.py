from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal import services
from portal.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create a personal API token for an existing user and print it (the only time it is shown)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="created with manage.py apitoken", help="What the token is for.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}. Create it first (manage.py createsuperuser).")
        try:
            new = services.apitoken_create(user=user, name=options["name"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(new.raw)
