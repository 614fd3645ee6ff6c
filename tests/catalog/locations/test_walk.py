"""The location reader: the walk through nested locations, its digest cache, and the sources a failure keeps."""

from __future__ import annotations

import yaml

from catalog import services
from catalog.descriptors.errors import IssueCode
from catalog.locations import walk
from catalog.locations.file import FileReader
from catalog.models import Entity
from tests.catalog.factories import ComponentDictFactory, LocationDictFactory, LocationFactory, write_docs
from tests.catalog.remotes import http_server


def file_walk(path, **kwargs) -> walk.ReadOutcome:
    return walk.location_walk(type="file", target=str(path), **kwargs)


def codes(outcome: walk.ReadOutcome) -> list[str]:
    return [issue.code for issue in outcome.issues]


def entity_names(outcome: walk.ReadOutcome) -> set[str]:
    return {parsed.entity["metadata"]["name"] for source in outcome.sources for parsed in source.entities}


# --- the walk -----------------------------------------------------------------------------------------------------


def test_location_walk_follows_nested_locations_and_reads_cycles_once_without_the_database(root):
    # No `db` fixture: any query would fail the test.
    write_docs(root / "all.yaml", [LocationDictFactory(name="all", targets=["./teams/a.yaml", "./teams/*.yaml"])])
    write_docs(
        root / "teams" / "a.yaml",
        [ComponentDictFactory(name="a"), LocationDictFactory(name="back", targets=["../all.yaml"])],
    )
    write_docs(root / "teams" / "b.yaml", [ComponentDictFactory(name="b")])

    outcome = file_walk(root / "all.yaml")

    assert outcome.files_read == 3
    assert [s.source for s in outcome.sources] == [
        f"file:{root}/all.yaml",
        f"file:{root}/teams/a.yaml",
        f"file:{root}/teams/b.yaml",
    ]
    assert entity_names(outcome) == {"all", "a", "back", "b"}
    assert outcome.issues == []
    assert outcome.failed == []


def test_location_walk_reports_every_file_it_reads(root):
    write_docs(root / "all.yaml", [LocationDictFactory(name="all", targets=["./a.yaml"])])
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])
    seen: list[str] = []

    file_walk(root / "all.yaml", on_file=seen.append)

    assert seen == [f"file:{root}/all.yaml", f"file:{root}/a.yaml"]


def test_location_walk_records_an_unreadable_target_where_it_was_named(root):
    write_docs(
        root / "all.yaml",
        [LocationDictFactory(name="all", targets=["./missing.yaml"]), ComponentDictFactory(name="stays")],
    )

    outcome = file_walk(root / "all.yaml")

    assert outcome.failed == [("file", f"{root}/missing.yaml")]
    (failed,) = [s for s in outcome.sources if not s.ok]
    assert failed.source == f"file:{root}/missing.yaml"
    (issue,) = failed.issues
    assert issue.code == IssueCode.READ
    assert issue.file == f"file:{root}/all.yaml"
    assert issue.message == f"file:{root}/all.yaml: {root}/missing.yaml: file not found"


def test_location_walk_records_a_missing_root_as_a_read_error_naming_it(root):
    outcome = file_walk(root / "gone.yaml")

    assert codes(outcome) == [IssueCode.READ]
    assert outcome.issues[0].message == f"file:{root}/gone.yaml: file not found"
    assert outcome.files_read == 0


def test_location_walk_fails_a_file_that_is_not_yaml_as_a_whole(root):
    (root / "broken.yaml").write_text("kind: [this is not yaml\n")

    outcome = file_walk(root / "broken.yaml")

    assert outcome.failed == [("file", f"{root}/broken.yaml")]
    assert [s.ok for s in outcome.sources] == [False]
    assert codes(outcome) == [IssueCode.PARSE]
    assert outcome.digests == {}


def test_location_walk_keeps_the_good_entities_of_a_file_with_an_invalid_one(root):
    write_docs(root / "a.yaml", [ComponentDictFactory(name="good"), {**ComponentDictFactory(name="bad"), "spec": {}}])

    outcome = file_walk(root / "a.yaml")

    assert [s.ok for s in outcome.sources] == [True]
    assert entity_names(outcome) == {"good"}
    assert set(codes(outcome)) == {IssueCode.VALIDATION}
    assert outcome.failed == []


def test_location_walk_refuses_file_targets_nested_in_a_url_location(root, settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = True
    write_docs(root / "local.yaml", [ComponentDictFactory(name="local")])
    body = yaml.safe_dump_all([LocationDictFactory(name="x", targets=[str(root / "local.yaml")], type="file")]).encode()
    with http_server({"/c.yaml": (200, {}, body)}) as base:
        outcome = walk.location_walk(type="url", target=f"{base}/c.yaml")

    assert entity_names(outcome) == {"x"}
    assert codes(outcome) == [IssueCode.NESTING]
    assert "a url location may not nest file targets" in outcome.issues[0].message
    assert outcome.failed == [("file", str(root / "local.yaml"))]


def test_location_walk_stops_at_the_nesting_cap(root, settings):
    settings.PAVED_CATALOG_MAX_NESTING = 2
    for depth in range(5):
        write_docs(root / f"n{depth}.yaml", [LocationDictFactory(name=f"n{depth}", targets=[f"./n{depth + 1}.yaml"])])

    outcome = file_walk(root / "n0.yaml")

    assert outcome.files_read == 3
    assert codes(outcome) == [IssueCode.NESTING]
    assert "Locations nest deeper than 2 levels" in outcome.issues[0].message


def test_location_walk_stops_at_the_file_cap_and_counts_the_rest_as_failed(root, settings):
    settings.PAVED_CATALOG_MAX_FILES = 2
    for name in "abc":
        write_docs(root / f"{name}.yaml", [ComponentDictFactory(name=name)])

    outcome = file_walk(root)

    assert outcome.files_read == 2
    assert codes(outcome) == [IssueCode.FILE_LIMIT]
    assert "more than 2 files in one location; stopped reading" in outcome.issues[0].message
    assert outcome.failed == [("file", f"{root}/c.yaml")]


def test_location_walk_records_an_unreachable_url_as_a_fetch_error(settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = True
    with http_server({}) as base:
        pass  # closed: nothing listens on its port any more

    outcome = walk.location_walk(type="url", target=f"{base}/catalog-info.yaml")

    assert codes(outcome) == [IssueCode.FETCH]
    assert "could not connect" in outcome.issues[0].message
    assert outcome.failed == [("url", f"{base}/catalog-info.yaml")]


def test_location_walk_records_a_refused_url_as_a_fetch_error(settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["catalog.example.com"]

    outcome = walk.location_walk(type="url", target="https://elsewhere.example.org/catalog-info.yaml")

    assert codes(outcome) == [IssueCode.FETCH]
    assert "host not allowed" in outcome.issues[0].message


# --- the digest cache ---------------------------------------------------------------------------------------------


def test_location_walk_skips_parsing_a_source_whose_bytes_match_the_cache(root, monkeypatch):
    write_docs(root / "all.yaml", [LocationDictFactory(name="all", targets=["./a.yaml"])])
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])
    first = file_walk(root / "all.yaml", salt="s")
    parsed: list[str] = []
    original = FileReader.parse
    monkeypatch.setattr(
        FileReader,
        "parse",
        lambda self, source, data, **kw: parsed.append(source) or original(self, source, data, **kw),
    )

    again = file_walk(root / "all.yaml", cache=first.digests, salt="s")

    assert parsed == []
    assert [(s.source, s.ok, s.unchanged) for s in again.sources] == [
        (f"file:{root}/all.yaml", True, True),
        (f"file:{root}/a.yaml", True, True),  # followed from the cached targets of all.yaml
    ]
    assert again.digests == first.digests


def test_location_walk_parses_again_when_the_salt_or_the_bytes_change(root):
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])
    first = file_walk(path, salt="trusted=False")

    assert not file_walk(path, cache=first.digests, salt="trusted=True").sources[0].unchanged
    write_docs(path, [ComponentDictFactory(name="a", owner="team-b")])
    assert not file_walk(path, cache=first.digests, salt="trusted=False").sources[0].unchanged


def test_location_walk_never_caches_files_with_placeholders_or_issues(root):
    (root / "desc.txt").write_text("text")
    write_docs(
        root / "p.yaml",
        [{**ComponentDictFactory(name="p"), "metadata": {"name": "p", "description": {"$text": "./desc.txt"}}}],
    )
    write_docs(root / "bad.yaml", [ComponentDictFactory(name="ok"), {**ComponentDictFactory(name="bad"), "spec": {}}])
    write_docs(root / "clean.yaml", [ComponentDictFactory(name="clean")])

    outcome = file_walk(root)

    assert set(outcome.digests) == {f"file:{root}/clean.yaml"}
    assert outcome.digests[f"file:{root}/clean.yaml"]["entities"] == 1


# --- a registered location: cache and kept sources ---------------------------------------------------------------


def test_location_read_uses_the_cache_only_for_sources_whose_entities_are_all_still_there(db, root):
    location = LocationFactory(
        type="file",
        target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a"), ComponentDictFactory(name="b")])),
    )
    services.location_refresh(location=location)
    location.refresh_from_db()

    assert walk.location_read(location=location).sources[0].unchanged
    Entity.objects.filter(name="b").delete()
    assert not walk.location_read(location=location).sources[0].unchanged


def test_location_read_keeps_the_sources_a_broken_file_hides_through_the_locations_it_declared(db, root):
    write_docs(root / "all.yaml", [LocationDictFactory(name="all", targets=["./team.yaml"])])
    team = write_docs(
        root / "team.yaml",
        [ComponentDictFactory(name="t1"), LocationDictFactory(name="deeper", targets=["./deep.yaml"])],
    )
    write_docs(root / "deep.yaml", [ComponentDictFactory(name="d1")])
    location = LocationFactory(type="file", target=str(root / "all.yaml"))
    services.location_refresh(location=location)
    team.write_text("kind: [this is not yaml\n")

    outcome = walk.location_read(location=location)

    assert [(s.source, s.ok) for s in outcome.sources] == [
        (f"file:{root}/all.yaml", True),
        (f"file:{root}/team.yaml", False),  # read, and broken
        (f"file:{root}/deep.yaml", False),  # not read at all: kept through team.yaml's last good Location
    ]
    assert outcome.failed == [("file", f"{root}/team.yaml")]


def test_location_read_keeps_nothing_when_everything_read(db, root):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))
    services.location_refresh(location=location)

    assert [s.ok for s in walk.location_read(location=location).sources] == [True]
