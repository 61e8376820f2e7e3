"""The executable schema: GitLab's SDL (``schema.graphql``, ``schema_newer.graphql``), its
ID scalars checking the model of every global ID, and the resolvers attached by name.

Resolvers are attached to the fields the SDL declares; a resolver for a field the SDL does not
have is a bug and fails loudly here, so the SDL and the code cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    ValueNode,
    build_schema,
    value_from_ast_untyped,
)
from graphql.language import StringValueNode

from auditstream.server.gitlab import ids
from auditstream.server.gitlab.resolvers_legacy import LEGACY_MUTATIONS
from auditstream.server.gitlab.resolvers_streaming import STREAMING_MUTATIONS
from auditstream.server.gitlab.resolvers_types import TYPE_RESOLVERS, Resolver

# Package data (read through importlib.resources, so an installed wheel has them too).
LEGACY_SDL_FILE = "schema.graphql"
NEWER_SDL_FILE = "schema_newer.graphql"


def sdl_text(name: str) -> str:
    """One of the SDL files shipped beside this module."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def schema_sdl() -> str:
    """The SDL the stand-in serves: GitLab 16.3's subset, then what came after."""
    return "\n".join(sdl_text(name) for name in (LEGACY_SDL_FILE, NEWER_SDL_FILE))


# What GitLab 20.0 removes: the legacy streaming API's entry points. Its types stay in the SDL
# (unreachable), which is harmless: clients find the API by the fields, as GitLab's docs advise.
LEGACY_ENTRY_POINTS = {
    "Group": ("externalAuditEventDestinations",),
    "Query": ("instanceExternalAuditEventDestinations",),
    "Mutation": tuple(LEGACY_MUTATIONS),
}


@cache
def gitlab_schema(legacy_api: bool = True) -> GraphQLSchema:
    """The schema with scalars and resolvers in place (built once per variant; never changed
    after). ``legacy_api=False`` is GitLab 20.0, where only the consolidated API is left."""
    schema = build_schema(schema_sdl())
    for name, model in ids.SCALAR_MODELS.items():
        _global_id_scalar(_scalar(schema, name), model)
    _json_scalar(_scalar(schema, "JSON"))
    attach(schema, TYPE_RESOLVERS)
    attach(schema, {"Mutation": {**LEGACY_MUTATIONS, **STREAMING_MUTATIONS}})
    if not legacy_api:
        for type_name, field_names in LEGACY_ENTRY_POINTS.items():
            graphql_type = schema.get_type(type_name)
            assert isinstance(graphql_type, GraphQLObjectType)
            for field_name in field_names:
                del graphql_type.fields[field_name]
    return schema


def attach(schema: GraphQLSchema, resolvers: dict[str, dict[str, Resolver]]) -> None:
    for type_name, fields in resolvers.items():
        graphql_type = schema.get_type(type_name)
        if not isinstance(graphql_type, GraphQLObjectType):
            raise LookupError(f"resolvers for {type_name}, which the SDL does not define")
        for field_name, resolve in fields.items():
            if field_name not in graphql_type.fields:
                raise LookupError(f"a resolver for {type_name}.{field_name}, which the SDL "
                                  "does not declare")
            graphql_type.fields[field_name].resolve = resolve


def _scalar(schema: GraphQLSchema, name: str) -> GraphQLScalarType:
    scalar = schema.get_type(name)
    if not isinstance(scalar, GraphQLScalarType):
        raise LookupError(f"the SDL has no scalar {name}")
    return scalar


def _global_id_scalar(scalar: GraphQLScalarType, model: str) -> None:
    """Inputs: a global ID of ``model``, given as its number; outputs: the string."""

    def parse_value(value: Any) -> int:
        return ids.parse_gid(value, model)

    def parse_literal(node: ValueNode, _variables: Any = None) -> int:
        if not isinstance(node, StringValueNode):
            raise ValueError(f"{model} global IDs are strings")
        return ids.parse_gid(node.value, model)

    _coerce(scalar, parse_value, parse_literal, str)


def _json_scalar(scalar: GraphQLScalarType) -> None:
    """Untyped JSON, as GitLab's ``JSON`` scalar: any value in, any value out."""
    _coerce(scalar, lambda value: value, value_from_ast_untyped, lambda value: value)


def _coerce(scalar: GraphQLScalarType, parse_value: Callable[[Any], Any],
            parse_literal: Callable[..., Any], serialize: Callable[[Any], Any]) -> None:
    # graphql-core 3.2 calls parse_value/parse_literal/serialize; 3.3 calls the
    # coerce_* attributes, which __init__ copied from the defaults. Set both.
    for name, function in (("parse_value", parse_value), ("coerce_input_value", parse_value),
                           ("parse_literal", parse_literal), ("serialize", serialize),
                           ("coerce_output_value", serialize)):
        setattr(scalar, name, function)
