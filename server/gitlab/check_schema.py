"""Check the stand-in's SDL against GitLab's full schema: the subset must be GitLab's own.

    python -m server.gitlab.check_schema path/to/gitlab-16.3-schema.graphql \
        [--operations tests.server.gitlab.operations:OPERATIONS ...]

For ``schema.graphql`` (the part copied from GitLab 16.3), every scalar, enum, interface,
object and input type must exist in GitLab's schema with the same kind; every field, argument
and input field we serve must exist there with the same type (and default); an argument GitLab
requires must not be left out (an operation valid here would be invalid there); interfaces and
enum values must be GitLab's. For ``schema_newer.graphql`` (written from GitLab's docs for
versions after the file given), nothing may contradict it: a new type must not already exist,
and an added field must not already exist with another type.

With ``--operations MODULE:NAME`` (a dict of GraphQL documents), each document must also
validate against GitLab's full schema extended by ``schema_newer.graphql``: the operations
a test or a client sends are then known to be valid on a real GitLab of the matching version.

Exit status 0 when everything holds, 1 with one line per difference otherwise. Needs the full
schema file, which the project does not ship; the tests check the subset's own consistency.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from graphql import (
    DefinitionNode,
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    build_schema,
    parse,
    print_ast,
    validate,
)

from auditstream.server.gitlab.schema import LEGACY_SDL_FILE, NEWER_SDL_FILE, sdl_text

Fielded = ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode | InputObjectTypeDefinitionNode


def definitions(sdl: str) -> dict[str, TypeDefinitionNode]:
    """The named type definitions of an SDL document, by name."""
    found: dict[str, TypeDefinitionNode] = {}
    for node in parse(sdl, no_location=True).definitions:
        if isinstance(node, TypeDefinitionNode):
            found[node.name.value] = node
    return found


def subset_differences(subset: Iterable[DefinitionNode],
                       full: dict[str, TypeDefinitionNode]) -> Iterator[str]:
    """How ``subset`` departs from ``full``; nothing when it is a faithful subset."""
    for node in subset:
        if not isinstance(node, TypeDefinitionNode):
            yield f"{type(node).__name__}: only type definitions belong in the subset"
            continue
        name = node.name.value
        theirs = full.get(name)
        if theirs is None:
            yield f"{name}: not in GitLab's schema"
        elif type(theirs) is not type(node):
            yield f"{name}: a {_kind(node)} here, a {_kind(theirs)} in GitLab's schema"
        elif isinstance(node, EnumTypeDefinitionNode):
            yield from _enum_differences(node, theirs)  # type: ignore[arg-type]
        elif isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode
                        | InputObjectTypeDefinitionNode):
            yield from _fielded_differences(node, theirs)  # type: ignore[arg-type]
        elif not isinstance(node, ScalarTypeDefinitionNode):
            yield f"{name}: a {_kind(node)}, which the check does not know"


def newer_differences(newer: Iterable[DefinitionNode],
                      full: dict[str, TypeDefinitionNode]) -> Iterator[str]:
    """How the post-version additions contradict ``full`` (they may only add)."""
    for node in newer:
        name = node.name.value  # type: ignore[attr-defined]
        theirs = full.get(name)
        if isinstance(node, TypeDefinitionNode):
            if theirs is not None:
                yield f"{name}: already in GitLab's schema; it belongs in {LEGACY_SDL_FILE}"
            continue
        if not isinstance(node, TypeExtensionNode):
            continue
        if theirs is None:
            yield f"extend {name}: GitLab's schema has no {name} to extend"
            continue
        existing = {f.name.value: f for f in getattr(theirs, "fields", None) or ()}
        for field in getattr(node, "fields", None) or ():
            old = existing.get(field.name.value)
            if old is not None and print_ast(old.type) != print_ast(field.type):
                yield (f"extend {name}.{field.name.value}: {print_ast(field.type)} here, "
                       f"{print_ast(old.type)} in GitLab's schema")


def _fielded_differences(ours: Fielded, theirs: Fielded) -> Iterator[str]:
    name = ours.name.value
    if not isinstance(ours, InputObjectTypeDefinitionNode):
        their_interfaces = {i.name.value for i in getattr(theirs, "interfaces", None) or ()}
        for interface in ours.interfaces or ():
            if interface.name.value not in their_interfaces:
                yield f"{name}: GitLab's does not implement {interface.name.value}"
    their_fields = {f.name.value: f for f in theirs.fields or ()}
    for field in ours.fields or ():
        where = f"{name}.{field.name.value}"
        other = their_fields.get(field.name.value)
        if other is None:
            yield f"{where}: not in GitLab's schema"
            continue
        yield from _same_type(where, field.type, other.type)
        if isinstance(field, InputValueDefinitionNode):
            yield from _same_default(where, field, other)  # type: ignore[arg-type]
        else:
            yield from _argument_differences(where, field.arguments or (),
                                             other.arguments or ())  # type: ignore[union-attr]
    if isinstance(ours, InputObjectTypeDefinitionNode):
        # Leaving out an input field GitLab requires would make our inputs accept less.
        yield from _required_left_out(name, ours.fields or (),
                                      theirs.fields or ())  # type: ignore[arg-type]


def _argument_differences(where: str, ours: Iterable[InputValueDefinitionNode],
                          theirs: Iterable[InputValueDefinitionNode]) -> Iterator[str]:
    their_arguments = {a.name.value: a for a in theirs}
    for argument in ours:
        other = their_arguments.get(argument.name.value)
        if other is None:
            yield f"{where}({argument.name.value}): not in GitLab's schema"
            continue
        yield from _same_type(f"{where}({argument.name.value})", argument.type, other.type)
        yield from _same_default(f"{where}({argument.name.value})", argument, other)
    yield from _required_left_out(where, ours, their_arguments.values())


def _required_left_out(where: str, ours: Iterable[InputValueDefinitionNode],
                       theirs: Iterable[InputValueDefinitionNode]) -> Iterator[str]:
    served = {value.name.value for value in ours}
    for value in theirs:
        required = print_ast(value.type).endswith("!") and value.default_value is None
        if required and value.name.value not in served:
            yield f"{where}: leaves out {value.name.value}, which GitLab requires"


def _same_type(where: str, ours: object, theirs: object) -> Iterator[str]:
    if print_ast(ours) != print_ast(theirs):  # type: ignore[arg-type]
        yield (f"{where}: {print_ast(ours)} here, "  # type: ignore[arg-type]
               f"{print_ast(theirs)} in GitLab's schema")  # type: ignore[arg-type]


def _same_default(where: str, ours: InputValueDefinitionNode,
                  theirs: InputValueDefinitionNode) -> Iterator[str]:
    mine = print_ast(ours.default_value) if ours.default_value else None
    other = print_ast(theirs.default_value) if theirs.default_value else None
    if mine != other:
        yield f"{where}: default {mine} here, {other} in GitLab's schema"


def _enum_differences(ours: EnumTypeDefinitionNode,
                      theirs: EnumTypeDefinitionNode) -> Iterator[str]:
    their_values = {v.name.value for v in theirs.values or ()}
    for value in ours.values or ():
        if value.name.value not in their_values:
            yield f"{ours.name.value}.{value.name.value}: not one of GitLab's values"


def _kind(node: DefinitionNode) -> str:
    return type(node).__name__.removesuffix("DefinitionNode").removesuffix("Node")


def operation_differences(full_sdl: str, documents: dict[str, str]) -> Iterator[str]:
    """Each document that does not validate against GitLab's schema plus the newer part."""
    schema = build_schema(full_sdl + "\n" + sdl_text(NEWER_SDL_FILE),
                          assume_valid_sdl=True)
    for name, document in sorted(documents.items()):
        for error in validate(schema, parse(document)):
            yield f"operation {name}: {error.message}"


def load_operations(spec: str) -> dict[str, str]:
    """``package.module:NAME`` -> that dict of documents."""
    module_name, _, attribute = spec.partition(":")
    documents = getattr(importlib.import_module(module_name), attribute or "OPERATIONS")
    if not isinstance(documents, dict):
        raise TypeError(f"{spec} is not a dict of GraphQL documents")
    return {str(k): str(v) for k, v in documents.items()}


def check(full_schema: Path, operations: Iterable[str] = ()) -> list[str]:
    """Every difference between the shipped SDL (and the given operations) and GitLab's
    schema in ``full_schema``."""
    text = full_schema.read_text(encoding="utf-8")
    full = definitions(text)
    legacy = parse(sdl_text(LEGACY_SDL_FILE), no_location=True).definitions
    newer = parse(sdl_text(NEWER_SDL_FILE), no_location=True).definitions
    differences = [*subset_differences(legacy, full), *newer_differences(newer, full)]
    for spec in operations:
        differences += operation_differences(text, load_operations(spec))
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m auditstream.server.gitlab.check_schema",
        description="Check the stand-in's SDL (and operations) against GitLab's schema.")
    parser.add_argument("full_schema", type=Path, help="GitLab's full schema (SDL)")
    parser.add_argument("--operations", action="append", default=[], metavar="MODULE:NAME",
                        help="a dict of GraphQL documents to validate too (repeatable)")
    args = parser.parse_args(argv)
    differences = check(args.full_schema, args.operations)
    legacy = definitions(sdl_text(LEGACY_SDL_FILE))
    for line in differences:
        print(line)
    fields = sum(len(getattr(node, "fields", None) or ()) for node in legacy.values())
    verdict = f"{len(differences)} difference(s)" if differences else "no differences"
    print(f"{LEGACY_SDL_FILE}: {len(legacy)} types, {fields} fields checked against "
          f"{args.full_schema}; {NEWER_SDL_FILE} checked to only add; "
          + (f"{len(args.operations)} set(s) of operations validated; "
             if args.operations else "")
          + verdict)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
