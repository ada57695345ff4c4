"""JSON Schemas for the `json` scorer, made safe to run on every answer of an audit.

* Resolution is offline and local: a `$ref` may name another part of the schema or a file in the config's
  folder; any other URL (https://, file:///etc/passwd) is refused when the config is loaded, never fetched.
* Every `$ref` is resolved, and `$ref` cycles that never descend into the answer (which would recurse
  forever) are refused, when the scorer is built: before any model call, not after a round of them.
* `pattern` and `patternProperties` match with RE2 (limits.pattern), in linear time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError
from ..limits import decode, loads, pattern

IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")  # subschemas applied to the same value: a cycle here never ends
IN_PLACE = ("not", "if", "then", "else")
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
DATA = ("const", "enum", "examples", "default")  # instance values, not schemas


class Schema:
    """A checked JSON Schema and its validator (built once per task, used for every answer)."""

    def __init__(self, contents: dict[str, Any], base_dir: Path, where: str) -> None:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError
        from referencing import Registry

        self.where = where
        try:
            Draft202012Validator.check_schema(contents)
        except SchemaError as e:
            raise ConfigError(f"{where}: not a valid JSON Schema: {e.message}") from None
        make: Any = Registry  # an attrs class mypy cannot see the fields of
        registry = make(retrieve=lambda uri: _retrieve(uri, base_dir.resolve(), where))
        _check_refs(contents, registry, where)
        self.contents = contents
        self.validator = _validator_class()(contents, registry=registry)

    def first_error(self, instance: Any) -> str | None:
        """Where and why the value breaks the schema, or None when it conforms."""
        from jsonschema.exceptions import best_match

        try:
            error = best_match(self.validator.iter_errors(instance))
        except RecursionError:
            return "the schema recurses without end on this value"
        if error is None:
            return None
        return f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"


def load_schema(schema: dict[str, Any] | str | None, base_dir: str | Path) -> Schema | None:
    """An inline JSON Schema, or one read from a file in the config's folder; ConfigError when it is not a
    usable one."""
    if schema is None:
        return None
    base = Path(base_dir)
    if isinstance(schema, dict):
        return Schema(schema, base, "json scorer schema")
    p = base / schema
    where = f"json scorer schema {p}"
    return Schema(_read(p, base.resolve(), where), base, where)


def _read(path: Path, root: Path, where: str) -> dict[str, Any]:
    if not path.resolve().is_relative_to(root):
        raise ConfigError(f"{where}: outside the config's folder {root}; schemas are read from there only")
    try:
        loaded = loads(decode(path.read_bytes()))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{where}: cannot read a JSON Schema: {e}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{where}: a JSON Schema is an object, got {type(loaded).__name__}")
    return loaded


def _retrieve(uri: str, root: Path, where: str) -> Any:
    """The registry's only way out: a file in the config's folder, named by a relative or file: URI."""
    from referencing import Resource
    from referencing.exceptions import NoSuchResource as _NoSuchResource
    from referencing.jsonschema import DRAFT202012

    NoSuchResource: Any = _NoSuchResource  # an attrs class mypy cannot see the fields of

    parts = urlsplit(uri)
    if parts.scheme not in ("", "file") or parts.netloc:
        raise NoSuchResource(ref=uri)
    path = Path(unquote(parts.path))
    path = path if path.is_absolute() else root / path
    if not path.resolve().is_relative_to(root):
        raise NoSuchResource(ref=uri)
    try:
        contents = _read(path, root, where)
    except ConfigError:
        raise NoSuchResource(ref=uri) from None
    return Resource.from_contents(contents, default_specification=DRAFT202012)


def _check_refs(contents: dict[str, Any], registry: Any, where: str) -> None:
    """Resolve every $ref now, and refuse a cycle of in-place subschemas ($ref, allOf, not, ...)."""
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    edges: dict[int, list[int]] = {}  # node -> the nodes applied to the same value
    todo: list[tuple[Any, Any]] = [(contents, registry.resolver_with_root(DRAFT202012.create_resource(contents)))]
    while todo:
        node, resolver = todo.pop()
        if not isinstance(node, dict) or id(node) in edges:
            continue
        if isinstance(node.get("$id"), str):
            resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
        same = edges[id(node)] = []
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                try:
                    target = resolver.lookup(value)
                except Unresolvable:
                    raise ConfigError(f"{where}: $ref {value!r} cannot be resolved: schemas are resolved offline, "
                                      f"from the schema itself or files in the config's folder") from None
                same.append(id(target.contents))
                todo.append((target.contents, target.resolver))
            elif key in DATA:
                continue
            elif key in IN_PLACE_LISTS and isinstance(value, list) or key in IN_PLACE and isinstance(value, dict):
                children = value if isinstance(value, list) else [value]
                same += [id(c) for c in children if isinstance(c, dict)]
                todo += [(c, resolver) for c in children]
            elif key in SCHEMA_MAPS and isinstance(value, dict):
                if key == "dependentSchemas":
                    same += [id(c) for c in value.values() if isinstance(c, dict)]
                todo += [(c, resolver) for c in value.values()]
            elif isinstance(value, dict):
                todo.append((value, resolver))
            elif isinstance(value, list):
                todo += [(c, resolver) for c in value]
    if _has_cycle(edges):
        raise ConfigError(f"{where}: a $ref cycle applies the schema to the same value forever; a recursive "
                          f"$ref must go through properties or items")
    _check_patterns(contents, where)


def _has_cycle(edges: dict[int, list[int]]) -> bool:
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for start in edges:
        if start in state:
            continue
        stack = [(start, iter(edges.get(start, ())))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return True
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(edges.get(nxt, ()))))
    return False


def _check_patterns(contents: Any, where: str) -> None:
    """Every pattern compiles on RE2; property-name patterns are matched by RE2 too, except under
    unevaluatedProperties, whose matching jsonschema keeps to itself, so that pair is refused."""
    todo = [contents]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo += node
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in DATA:
                continue
            try:
                if key == "pattern" and isinstance(value, str):
                    pattern(value)
                elif key == "patternProperties" and isinstance(value, dict):
                    for p in value:
                        pattern(p)
            except ValueError as e:
                raise ConfigError(f"{where}: {e}") from None
            todo.append(value)
        if "patternProperties" in node and "unevaluatedProperties" in node:
            raise ConfigError(f"{where}: patternProperties with unevaluatedProperties is not supported (its "
                              f"matching could not be held to linear time); use additionalProperties")


def _validator_class() -> Any:
    """Draft 2020-12 with `pattern`, `patternProperties` and `additionalProperties` matched by RE2."""
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import ValidationError

    def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and not pattern(patrn).search(instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "object"):
            for p, subschema in patterns.items():
                for k, v in instance.items():
                    if pattern(p).search(k):
                        yield from validator.descend(v, subschema, path=k, schema_path=p)

    def _additional(validator: Any, ap: Any, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        named, patterns = schema.get("properties", {}), list(schema.get("patternProperties", {}))
        extras = sorted((k for k in instance if k not in named and not any(pattern(p).search(k) for p in patterns)),
                        key=str)
        if validator.is_type(ap, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], ap, path=extra)
        elif ap is False and extras:
            yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, extras))} "
                                  f"{'was' if len(extras) == 1 else 'were'} unexpected)")

    return validators.extend(Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties,
                                                    "additionalProperties": _additional})
