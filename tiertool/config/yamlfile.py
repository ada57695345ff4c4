"""YAML files from users (tiertool.yaml, tiers.yaml), read with a bound on what they expand to.

`yaml.safe_load` follows aliases by reference, so a 1 KB "billion laughs" document loads instantly and then
explodes wherever it is walked (validation, the audit's stored config: 3.6 GB of memory). Anchors and aliases
stay allowed for normal use; a document whose values, aliases followed, number more than MAX_YAML_NODES is
refused before anything walks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..limits import MAX_YAML_NODES, decode


class YamlTooLarge(ValueError):
    """The document expands past MAX_YAML_NODES values, refers to itself, or nests too deeply."""


def read_yaml(path: Path) -> Any:
    """The document in a YAML file (UTF-8 or UTF-16 with BOM); yaml.YAMLError when it does not parse,
    ValueError when it is not text or expands too far."""
    import yaml

    loader = yaml.SafeLoader(decode(path.read_bytes()))
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded(node, {}, set())
        return loader.construct_document(node)
    except RecursionError:
        raise YamlTooLarge("nested too deeply") from None
    finally:
        loader.dispose()


def _expanded(node: Any, sizes: dict[int, int], path: set[int]) -> int:
    """How many values the node stands for once every alias is followed (each shared node measured once)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in path:
        raise YamlTooLarge("an alias refers to the value that contains it")
    path.add(key)
    children = node.value if isinstance(node.value, list) else []
    total = 1
    for child in children:
        for part in (child if isinstance(child, tuple) else (child,)):
            total += _expanded(part, sizes, path)
            if total > MAX_YAML_NODES:
                raise YamlTooLarge(f"it expands to more than {MAX_YAML_NODES:,} values once its aliases are "
                                   f"followed (an alias bomb?)")
    path.discard(key)
    sizes[key] = total
    return total
