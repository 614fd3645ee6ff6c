"""Entity refs as the portal shows them: read, labelled and linked to their catalog page in one place.

Built on catalog.descriptors.refs (Backstage's grammar, pure). Python code calls these helpers, templates the
`entity_url` and `ref_label` filters (catalog_ui), and `Entity.get_absolute_url` links an entity the same way, so a
ref reads and links alike on every page. The on-call engine keeps its own small copy, to stay free of the catalog.
"""

from __future__ import annotations

from django.urls import reverse

from catalog.descriptors.refs import EntityRef, ref_label, ref_parts

__all__ = ["EntityRef", "ref_label", "ref_parts", "ref_url"]


def ref_url(ref: str | EntityRef) -> str:
    """The catalog page of a ref (`kind:namespace/name`, namespace optional), whether or not the entity exists;
    empty for text without a kind."""
    parts = ref if isinstance(ref, EntityRef) else ref_parts(str(ref))
    kind, namespace, name = parts.key()
    if not kind or not name:
        return ""
    return reverse("catalog:entity_detail", args=[namespace, kind, name])
