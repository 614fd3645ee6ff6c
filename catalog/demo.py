"""The demo organisation (Acme Retail, portal/demo/org/): registered as a trusted file location and refreshed.

Called by `manage.py demo_setup`. Idempotent: an existing registration is refreshed, and unchanged files write nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Final, TextIO

from django.conf import settings

from catalog import services
from catalog.models import Entity, Location
from portal.permissions import SYSTEM

DEMO_INDEX: Final = Path(settings.BASE_DIR) / "portal" / "demo" / "org" / "all.yaml"


def load(*, stdout: TextIO) -> Location:
    location = Location.objects.filter(type=Location.Type.FILE, target=str(DEMO_INDEX)).first()
    if location is None:
        # Registered and refreshed here, synchronously: the on-commit refresh the service also enqueues finds
        # nothing left to write.
        location = services.location_create(type="file", target=str(DEMO_INDEX), trusted=True, actor=SYSTEM)
        stdout.write(f"Registered the demo organisation: {location.key}\n")
    result = services.location_refresh(location=location)
    applied = result.applied
    kinds = Counter(Entity.objects.filter(location=location).values_list("kind", flat=True))
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    stdout.write(
        f"Demo organisation: {sum(kinds.values())} entities from {result.files_read} files ({summary}); this refresh "
        f"created {applied.created}, updated {applied.updated}, left {applied.unchanged} unchanged; "
        f"{len(applied.errors)} errors.\n"
    )
    for error in applied.errors:
        stdout.write(f"  error: {error['message']}\n")
    return location
