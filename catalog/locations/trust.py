"""Trust: which locations may declare the kinds that shape the organisation or its policy.

A location is trusted when marked so (`--trusted`, the admin toggle) or when its target matches one of
PAVED_CATALOG_TRUSTED_LOCATIONS. Which kinds need it is the kind registry's to say (`KindSpec.trusted_only`:
Groups, Users, Templates and Paved's kinds). A refresh and a dry run both ask `untrusted_kind`.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatch
from typing import Any

from django.conf import settings

from catalog.descriptors.kinds import requires_trusted_location
from catalog.models import Location

from . import errors
from .errors import LocationError


def location_is_trusted(*, location: Location) -> bool:
    if location.trusted:
        return True
    return any(fnmatch(location.target, pattern) for pattern in settings.PAVED_CATALOG_TRUSTED_LOCATIONS)


def untrusted_kind(
    *, entity: Mapping[str, Any], ref: str, file: str, trusted: bool, document: int | None = None
) -> LocationError | None:
    """The error that refuses `entity` when its kind needs a trusted location and this one is not; else None."""
    if trusted:
        return None
    kind, api_version = str(entity.get("kind", "")), str(entity.get("apiVersion", ""))
    if not requires_trusted_location(kind, api_version):
        return None
    return errors.untrusted_kind(ref=ref, kind=kind, file=file, document=document)
