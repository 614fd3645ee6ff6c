"""The catalog's tables: registered locations, entities, their relations and the search index.

Entities are stored as the JSON Backstage would return (`data`), with the columns that lists, filters and
joins need pulled out beside it. Relations and search rows are derived from `data` at ingestion and
rewritten only when an entity's content hash changes.

Relations and search rows point at their entity without a foreign-key constraint in the database: checking one
for each of the hundreds of thousands of rows a large location writes cost PostgreSQL more than a second at every
such commit. What the constraint guarded is kept by the code instead: deleting an entity through Django (every
delete in Paved does: `services.location_delete`, `services.entity_delete`, the orphan policy) deletes its rows
in the same transaction (`on_delete=CASCADE`), and `catalog.ingest` writes rows only for entities it has just
inserted or updated under the location's lock, retrying when an entity it updates was deleted meanwhile.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

# The on-call room keeps its tables in its own module; importing them here registers them with the catalog app.
from catalog.oncall.models import CalendarFeed, OnCallOverride
from catalog.refs import EntityRef, ref_url


class Location(models.Model):
    """A registered source of descriptors: a file/directory/glob, an http(s) URL, or a git repository.

    Refreshing it reads the target (and the Location entities it nests), and replaces the entities it
    manages — or keeps the last good ones and records the error when the read fails.
    """

    class Type(models.TextChoices):
        FILE = "file", "File"
        URL = "url", "URL"
        GIT = "git", "Git repository"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the first refresh"
        OK = "ok", "Refreshed"
        FAILED = "failed", "Last refresh failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=10, choices=Type.choices)
    target = models.CharField(max_length=2048)
    trusted = models.BooleanField(
        default=False, help_text="May declare Groups, Users, Templates and Paved's kinds (org data and policy)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    last_refresh_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_refresh_at = models.DateTimeField(null=True, blank=True, db_index=True)
    failed_attempts = models.PositiveIntegerField(default=0, help_text="Consecutive failed refreshes.")
    errors = models.JSONField(
        default=list, blank=True, help_text="Issues of the last refresh: [{file, document, entityRef, path, message}]."
    )
    entity_count = models.PositiveIntegerField(default=0)
    source_digests = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per source that last read cleanly: {digest, targets, entities}. An identical source is not parsed "
        "again; cleared whenever trust changes or one of its entities is deleted by hand.",
    )

    class Meta:
        ordering = ["type", "target"]
        constraints = [
            models.UniqueConstraint(fields=["type", "target"], name="catalog_location_unique_target"),
        ]

    def __str__(self) -> str:
        return f"{self.type}:{self.target}"

    @property
    def key(self) -> str:
        """How Backstage writes a location in annotations: `<type>:<target>`."""
        return f"{self.type}:{self.target}"


class Entity(models.Model):
    """One catalog entity. `ref` is `kind:namespace/name` lower-cased and unique (Backstage's identity rule)."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ref = models.CharField(max_length=300, unique=True)
    kind = models.CharField(max_length=63)
    namespace = models.CharField(max_length=63)
    name = models.CharField(max_length=63)
    api_version = models.CharField(max_length=253)
    title = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    spec_type = models.CharField(max_length=255, blank=True)
    lifecycle = models.CharField(max_length=255, blank=True)
    owner_ref = models.CharField(max_length=300, blank=True)
    system_ref = models.CharField(max_length=300, blank=True)
    tags = models.JSONField(default=list, blank=True)
    data = models.JSONField(help_text="The entity as the API returns it, without relations.")
    etag = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64, help_text="Hash of the ingested content: unchanged means no write.")
    search_text = models.TextField(blank=True, help_text="Lower-cased name, title, description and tags.")
    location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="entities",
        help_text="The registered location that manages this entity.",
    )
    source = models.CharField(
        max_length=2100, blank=True, help_text="The file or URL it was read from (backstage.io/managed-by-location)."
    )
    orphan = models.BooleanField(default=False, db_index=True, help_text="Gone from a source that read cleanly.")
    errors = models.JSONField(default=list, blank=True, help_text="Processing errors (Backstage's status.items).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "namespace", "name"]
        verbose_name_plural = "entities"
        # Every index is paid for by every entity a refresh writes (18 of them cost 7 s of 100,000 new entities):
        # `kind` is the head of the first one, and the columns below are compared whole (equality, IN, GROUP BY,
        # ORDER BY), never by prefix, so none has the `varchar_pattern_ops` twin that `db_index` adds on PostgreSQL.
        indexes = [
            models.Index(fields=["kind", "namespace", "name"]),
            models.Index(fields=["spec_type"], name="catalog_entity_spec_type"),
            models.Index(fields=["owner_ref"], name="catalog_entity_owner_ref"),
            models.Index(fields=["system_ref"], name="catalog_entity_system_ref"),
            models.Index(Lower("name"), name="catalog_entity_name_lower"),
            # The catalog page's default order (filters.ORDERINGS["name"], and "-name" backwards): a page walks this
            # index and stops after its rows instead of sorting every match (44k components at 100k entities).
            models.Index(fields=["name", "kind", "namespace"], name="catalog_entity_name_order"),
        ]

    def __str__(self) -> str:
        return self.ref

    def get_absolute_url(self) -> str:
        return ref_url(EntityRef(kind=self.kind, namespace=self.namespace, name=self.name))


class Relation(models.Model):
    """A directed relation `source_ref —type→ target_ref`. Both directions of a spec reference are stored,
    each attributed to the entity whose spec declared it, so they vanish with it. The target may not exist."""

    # No index of its own: the unique constraint below starts with this column and serves its lookups. No foreign-key
    # constraint in the database either (see the module docstring): Django's CASCADE deletes the rows with their entity.
    originating = models.ForeignKey(
        Entity, on_delete=models.CASCADE, related_name="originated_relations", db_index=False, db_constraint=False
    )
    source_ref = models.CharField(max_length=300)
    type = models.CharField(max_length=100)
    target_ref = models.CharField(max_length=300)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["originating", "source_ref", "type", "target_ref"], name="catalog_relation_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["source_ref", "type"]),
            models.Index(fields=["target_ref", "type"]),
        ]

    def __str__(self) -> str:
        return f"{self.source_ref} {self.type} {self.target_ref}"


class SearchEntry(models.Model):
    """One flattened `key=value` of an entity, lower-cased, as Backstage's search table: what filters,
    facets and ordering on arbitrary dot paths are computed from, in the database."""

    # No index of its own: the (entity, key, value) index below serves lookups and deletes by entity. No foreign-key
    # constraint in the database (see the module docstring): Django's CASCADE deletes the rows with their entity.
    entity = models.ForeignKey(
        Entity, on_delete=models.CASCADE, related_name="search_entries", db_index=False, db_constraint=False
    )
    key = models.CharField(max_length=255)
    value = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        indexes = [
            # Covering: filters (`entity_id IN (… key=… AND value=…)`) and facet GROUP BYs read only the index.
            models.Index(fields=["key", "value", "entity"], name="catalog_search_key_value_ent"),
            # Per-entity probes (`EXISTS … entity_id = … AND key = … AND value = …`, ordering subqueries) read only
            # the index too.
            models.Index(fields=["entity", "key", "value"], name="catalog_search_ent_key_value"),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


__all__ = ["CalendarFeed", "Entity", "Location", "OnCallOverride", "Relation", "SearchEntry"]
