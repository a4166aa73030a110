"""The parse tree (Go's ``text/template/parse/node.go``), as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    pos: int
    line: int


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)


@dataclass
class TextNode(Node):
    text: str = ""


@dataclass
class DotNode(Node):
    pass


@dataclass
class NilNode(Node):
    pass


@dataclass
class FieldNode(Node):
    ident: list[str] = field(default_factory=list)


@dataclass
class VariableNode(Node):
    ident: list[str] = field(default_factory=list)


@dataclass
class IdentifierNode(Node):
    name: str = ""


@dataclass
class BoolNode(Node):
    value: bool = False


@dataclass
class StringNode(Node):
    quoted: str = ""
    text: str = ""


@dataclass
class NumberNode(Node):
    text: str = ""
    is_int: bool = False
    is_uint: bool = False
    is_float: bool = False
    is_complex: bool = False
    int_value: int = 0
    float_value: float = 0.0
    complex_value: complex = 0j


@dataclass
class ChainNode(Node):
    node: Node | None = None
    fields: list[str] = field(default_factory=list)


@dataclass
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)


@dataclass
class PipeNode(Node):
    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)


@dataclass
class ActionNode(Node):
    pipe: PipeNode | None = None


@dataclass
class BranchNode(Node):
    pipe: PipeNode | None = None
    list: ListNode | None = None
    else_list: ListNode | None = None


@dataclass
class IfNode(BranchNode):
    pass


@dataclass
class RangeNode(BranchNode):
    pass


@dataclass
class WithNode(BranchNode):
    pass


@dataclass
class BreakNode(Node):
    pass


@dataclass
class ContinueNode(Node):
    pass


@dataclass
class TemplateNode(Node):
    name: str = ""
    pipe: PipeNode | None = None


@dataclass
class EndNode(Node):
    pass


@dataclass
class ElseNode(Node):
    pass


def describe(node: Any) -> str:
    """Go's ``Node.String()`` for the nodes error messages name."""
    if isinstance(node, FieldNode):
        return "." + ".".join(node.ident)
    if isinstance(node, VariableNode):
        return ".".join(node.ident)
    if isinstance(node, DotNode):
        return "."
    if isinstance(node, NilNode):
        return "nil"
    if isinstance(node, IdentifierNode):
        return node.name
    if isinstance(node, BoolNode):
        return "true" if node.value else "false"
    if isinstance(node, StringNode):
        return node.quoted
    if isinstance(node, NumberNode):
        return node.text
    if isinstance(node, ChainNode):
        inner = describe(node.node)
        if isinstance(node.node, PipeNode):
            inner = f"({inner})"
        return inner + "".join("." + f for f in node.fields)
    if isinstance(node, CommandNode):
        parts = []
        for arg in node.args:
            text = describe(arg)
            parts.append(f"({text})" if isinstance(arg, PipeNode) else text)
        return " ".join(parts)
    if isinstance(node, PipeNode):
        decl = ""
        if node.decl:
            names = ", ".join(describe(v) for v in node.decl)
            decl = f"{names} {'=' if node.is_assign else ':='} "
        return decl + " | ".join(describe(c) for c in node.cmds)
    if isinstance(node, EndNode):
        return "{{end}}"
    if isinstance(node, ElseNode):
        return "{{else}}"
    return type(node).__name__
