"""Find the line of a YAML document that a validation error's location points at."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


def line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int:
    """1-based line of the node at ``loc`` (keys and list indexes), or of its nearest parent."""
    if node is None:
        return 1
    current = node
    for part in loc:
        child = _child(current, part)
        if child is None:
            break
        current = child
    return int(current.start_mark.line) + 1


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value  # type: ignore[no-any-return]
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        items: list[yaml.Node] = node.value
        return items[part] if 0 <= part < len(items) else None
    return None
