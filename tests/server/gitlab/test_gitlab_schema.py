"""The schema the stand-in serves: consistent, GitLab's shape, and what introspection shows.

The check against GitLab's full schema needs GitLab's schema file, which a clone does not
have (``python -m auditstream.server.gitlab.check_schema FILE`` runs it); here the check
itself is proven on small schemas, and the shipped SDL on its own.
"""

from __future__ import annotations

import aiohttp
import pytest
from graphql import (
    build_client_schema,
    build_schema,
    get_introspection_query,
    parse,
    print_schema,
    validate,
    validate_schema,
)

from auditstream.client.documents import LEGACY_OPERATIONS
from auditstream.server.gitlab import RunningGitLab, gitlab_schema, schema_sdl
from auditstream.server.gitlab.check_schema import (
    definitions,
    load_operations,
    newer_differences,
    operation_differences,
    subset_differences,
)
from auditstream.server.gitlab.schema import LEGACY_SDL_FILE, sdl_text
from tests.server.gitlab.operations import OPERATIONS


def test_shipped_sdl_builds_into_a_valid_schema() -> None:
    assert validate_schema(build_schema(schema_sdl())) == []


def test_the_16_3_part_stands_alone_without_extensions() -> None:
    text = sdl_text(LEGACY_SDL_FILE)
    assert "extend " not in text
    assert validate_schema(build_schema(text)) == []


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_the_tests_send_validates_against_the_sdl(name: str) -> None:
    assert validate(gitlab_schema(), parse(OPERATIONS[name])) == []


@pytest.mark.parametrize("name", sorted(LEGACY_OPERATIONS))
def test_every_operation_of_the_client_validates_against_the_sdl(name: str) -> None:
    assert validate(gitlab_schema(), parse(LEGACY_OPERATIONS[name])) == []


def test_every_mutation_and_query_field_has_a_resolver() -> None:
    schema = gitlab_schema()
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        missing = [name for name, field in root.fields.items() if field.resolve is None]
        assert missing == []


async def test_introspection_needs_no_token_and_shows_the_shipped_sdl(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    async with http.post(gitlab.graphql_url,
                         json={"query": get_introspection_query()}) as response:
        assert response.status == 200
        answer = await response.json()
    assert "errors" not in answer
    served = build_client_schema(answer["data"])
    assert print_schema(served) == print_schema(build_schema(schema_sdl()))


GITLAB = """
type Query { group(fullPath: ID!): Group  project(fullPath: ID!, x: Int): Project }
type Group implements Node { id: ID!  name: String!  secret(x: Int!): String }
interface Node { id: ID! }
type Project { id: ID! }
input CreateInput { a: String!  b: Int = 3  c: ID }
enum Color { RED GREEN }
scalar GroupID
"""


def _differences(subset: str) -> list[str]:
    return list(subset_differences(parse(subset).definitions, definitions(GITLAB)))


def test_schema_check_accepts_a_true_subset() -> None:
    assert _differences("""
        type Query { group(fullPath: ID!): Group }
        type Group implements Node { id: ID! }
        interface Node { id: ID! }
        input CreateInput { a: String!  b: Int = 3 }
        enum Color { RED }
        scalar GroupID
    """) == []


@pytest.mark.parametrize(("subset", "words"), [
    ("type Query { groups: Group }", "Query.groups: not in GitLab's schema"),
    ("type Group { id: String }", "Group.id: String here, ID! in GitLab's schema"),
    ("type Query { group(path: ID!): Group }", "Query.group(path): not in GitLab's"),
    ("type Query { group(fullPath: ID): Group }", "Query.group(fullPath): ID here, ID!"),
    ("type Query { group: Group }", "leaves out fullPath, which GitLab requires"),
    ("input CreateInput { b: Int }", "leaves out a, which GitLab requires"),
    ("input CreateInput { a: String!  b: Int = 4 }", "default 4 here, 3 in GitLab's"),
    ("type Project implements Node { id: ID! }", "GitLab's does not implement Node"),
    ("enum Color { BLUE }", "Color.BLUE: not one of GitLab's values"),
    ("input Group { id: ID! }", "Group: a InputObjectType here, a ObjectType"),
    ("scalar ProjectID", "ProjectID: not in GitLab's schema"),
])
def test_schema_check_names_each_kind_of_difference(subset: str, words: str) -> None:
    differences = _differences(subset)
    assert any(words in line for line in differences), differences


def test_schema_check_lets_newer_definitions_only_add() -> None:
    newer = parse("""
        extend type Group { active: Boolean!  id: String }
        type Project { id: ID! }
        type Brand { id: ID! }
        extend type Nowhere { a: Int }
    """).definitions
    assert list(newer_differences(newer, definitions(GITLAB))) == [
        "extend Group.id: String here, ID! in GitLab's schema",
        "Project: already in GitLab's schema; it belongs in schema.graphql",
        "extend Nowhere: GitLab's schema has no Nowhere to extend",
    ]


def test_operation_check_validates_documents_against_a_schema_plus_the_newer_part() -> None:
    legacy = sdl_text(LEGACY_SDL_FILE)
    documents = load_operations("tests.server.gitlab.operations:OPERATIONS")
    assert list(operation_differences(legacy, documents)) == []
    wrong = {"Wrong": "query Wrong { group(fullPath: \"a\") { nope } }"}
    [difference] = operation_differences(legacy, wrong)
    assert difference.startswith("operation Wrong: Cannot query field 'nope' on type 'Group'")
