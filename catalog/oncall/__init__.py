"""On-call: who is on call for a service or team, now and next.

One room of the catalog app: the pure engine (``engine/``, no Django), the portal's own rows (``models``), catalog
entities turned into engine objects (``loading``), reads per page (``selectors``), writes (``services``), drawing
helpers (``presentation``), the pages (``forms``, ``views``, ``urls``) and ``/api/oncall/`` (``api/``). Templates live
in ``catalog/templates/catalog/oncall/``.
"""
