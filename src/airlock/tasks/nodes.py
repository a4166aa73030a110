"""Typed reads of PyYAML nodes (``yaml.compose``), each error located at the node's mark.

Why nodes and not ``safe_load``: nodes keep their line and column, so every refusal can say
where. Conversions follow gopkg.in/yaml.v2, which acr-builder decodes with: any scalar fits a
string field, integers and booleans must be typed as such, lists must be YAML sequences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from airlock.tasks.errors import TaskFileError
from airlock.tasks.model import TaskWarning

_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def column_of(node: yaml.Node) -> int:
    return int(node.start_mark.column) + 1


@dataclass
class Reader:
    """Reads nodes of one file; collects warnings, or raises them when ``strict``."""

    source: str
    strict: bool = False
    warnings: list[TaskWarning] = field(default_factory=list)

    def fail(self, node: yaml.Node, message: str) -> TaskFileError:
        return TaskFileError(self.source, line_of(node), column_of(node), message)

    def warn(self, node: yaml.Node, message: str) -> None:
        if self.strict:
            raise self.fail(node, message)
        self.warnings.append(TaskWarning(line_of(node), column_of(node), message))

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value), not {_kind(node)}")
        seen: set[str] = set()
        items = []
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
            if key in seen:
                raise self.fail(key_node, f"{what} has '{key}' twice")
            seen.add(key)
            items.append((key, key_node, value_node))
        return items

    def unknown(self, key: str, key_node: yaml.Node, what: str, known: tuple[str, ...]) -> None:
        # acr-builder decodes with yaml.Unmarshal (not UnmarshalStrict): ACR ignores unknown keys.
        self.warn(
            key_node,
            f"unknown property '{key}' in {what} (ACR ignores it; known: {', '.join(known)})",
        )

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a string, not {_kind(node)}")
        return "" if node.tag == _NULL else str(node.value)

    def integer(self, node: yaml.Node, what: str, *, unit: str = "") -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _INT:
            shown = node.value if isinstance(node, yaml.ScalarNode) else _kind(node)
            raise self.fail(node, f"{what} must be a whole number{unit}, not {shown!r}")
        value = int(str(node.value).replace("_", ""), 0)
        if value < 0:
            raise self.fail(node, f"{what} must be >= 0, not {value}")
        return value

    def seconds(self, node: yaml.Node, what: str) -> int:
        return self.integer(node, what, unit=" of seconds")

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _BOOL:
            shown = node.value if isinstance(node, yaml.ScalarNode) else _kind(node)
            raise self.fail(node, f"{what} must be true or false, not {shown!r}")
        return str(node.value).lower() in ("true", "yes", "on", "y")

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list, not {_kind(node)}")
        return list(node.value)

    def strings(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        return tuple(
            self.string(item, f"each item of {what}") for item in self.sequence(node, what)
        )

    def integers(self, node: yaml.Node, what: str) -> tuple[int, ...]:
        items = self.sequence(node, what)
        return tuple(self.integer(item, f"each item of {what}") for item in items)


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"
