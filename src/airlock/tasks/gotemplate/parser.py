"""The parser of Go's ``text/template/parse`` (``parse.go``): the same grammar, the same errors."""

from __future__ import annotations

import math
import re
from collections.abc import Container
from dataclasses import dataclass, field

from airlock.tasks.gotemplate import nodes as n
from airlock.tasks.gotemplate.errors import ParseError
from airlock.tasks.gotemplate.lexer import Item, Token, lex
from airlock.tasks.gotemplate.strconv import go_unquote, parse_float, parse_int, unquote_char


@dataclass
class Template:
    """A parsed template: its root and the templates it defines (``define``/``block``)."""

    name: str
    root: n.ListNode
    defined: dict[str, n.ListNode] = field(default_factory=dict)


class _Parser:
    def __init__(self, name: str, text: str, funcs: Container[str]) -> None:
        self.name = name
        self.items = lex(text)
        self.i = 0
        self.furthest = 0
        self.action_line = 0  # line of the action being parsed, for errors (Go's actionLine)
        self.funcs = funcs
        self.vars = ["$"]
        self.range_depth = 0
        self.defined: dict[str, n.ListNode] = {}

    # token stream -------------------------------------------------------------------------

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def backup(self, count: int = 1) -> None:
        self.i -= count

    def peek(self) -> Token:
        at = min(self.i, len(self.items) - 1)
        self.furthest = max(self.furthest, at)
        return self.items[at]

    def next_non_space(self) -> Token:
        tok = self.next()
        while tok.typ is Item.SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> Token:
        tok = self.next_non_space()
        self.backup()
        return tok

    def error(self, message: str, line: int | None = None) -> ParseError:
        # Go reports the line of the furthest item it has read from the lexer.
        last = self.items[self.furthest]
        return ParseError(message, last.line if line is None else line, pos=last.pos)

    def unexpected(self, tok: Token, context: str) -> ParseError:
        if tok.typ is Item.ERROR:
            extra = ""
            if self.action_line and self.action_line != tok.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action") :]  # not "action in action"
            return self.error(tok.val + extra, tok.line)
        return self.error(f"unexpected {tok} in {context}", tok.line)

    def expect(self, typ: Item, context: str) -> Token:
        tok = self.next_non_space()
        if tok.typ is not typ:
            raise self.unexpected(tok, context)
        return tok

    # grammar ------------------------------------------------------------------------------

    def parse(self) -> Template:
        root = n.ListNode(self.peek().pos, self.peek().line)
        while self.peek().typ is not Item.EOF:
            if self.peek().typ is Item.LEFT_DELIM:
                mark = self.i
                self.next()
                if self.next_non_space().typ is Item.DEFINE:
                    self.parse_definition()
                    continue
                self.i = mark
            node = self.text_or_action()
            if isinstance(node, (n.EndNode, n.ElseNode)):
                raise self.error(f"unexpected {n.describe(node)}")
            root.nodes.append(node)
        return Template(self.name, root, self.defined)

    def parse_definition(self) -> None:
        context = "define clause"
        tok = self.next_non_space()
        if tok.typ not in (Item.STRING, Item.RAW_STRING):
            raise self.unexpected(tok, context)
        name = self._unquote(tok)
        self.expect(Item.RIGHT_DELIM, context)
        saved = self.vars
        self.vars = ["$"]
        body, end = self.item_list()
        self.vars = saved
        if not isinstance(end, n.EndNode):
            raise self.error(f"unexpected {n.describe(end)} in {context}")
        self._add(name, body)

    def _add(self, name: str, body: n.ListNode) -> None:
        if name in self.defined and not _is_empty(body) and not _is_empty(self.defined[name]):
            raise self.error(f"template: multiple definition of template {_go_q(name)}")
        if name not in self.defined or not _is_empty(body):
            self.defined[name] = body

    def item_list(self) -> tuple[n.ListNode, n.Node]:
        first = self.peek_non_space()
        body = n.ListNode(first.pos, first.line)
        while self.peek_non_space().typ is not Item.EOF:
            node = self.text_or_action()
            if isinstance(node, (n.EndNode, n.ElseNode)):
                return body, node
            body.nodes.append(node)
        raise self.error("unexpected EOF")

    def text_or_action(self) -> n.Node:
        tok = self.next_non_space()
        if tok.typ is Item.TEXT:
            return n.TextNode(tok.pos, tok.line, tok.val)
        if tok.typ is Item.LEFT_DELIM:
            self.action_line = tok.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        raise self.unexpected(tok, "input")

    def action(self) -> n.Node:
        tok = self.next_non_space()
        if tok.typ is Item.BLOCK:
            return self.block_control()
        if tok.typ is Item.BREAK:
            return self.loop_control(tok, "break", n.BreakNode)
        if tok.typ is Item.CONTINUE:
            return self.loop_control(tok, "continue", n.ContinueNode)
        if tok.typ is Item.ELSE:
            return self.else_control()
        if tok.typ is Item.END:
            end = self.expect(Item.RIGHT_DELIM, "end")
            return n.EndNode(end.pos, end.line)
        if tok.typ is Item.IF:
            return self.parse_control(n.IfNode, allow_else_if=True, context="if")
        if tok.typ is Item.RANGE:
            return self.parse_control(n.RangeNode, allow_else_if=False, context="range")
        if tok.typ is Item.TEMPLATE:
            return self.template_control()
        if tok.typ is Item.WITH:
            return self.parse_control(n.WithNode, allow_else_if=False, context="with")
        self.backup()
        start = self.peek()
        return n.ActionNode(start.pos, start.line, self.pipeline("command", Item.RIGHT_DELIM))

    def loop_control(self, tok: Token, word: str, cls: type[n.Node]) -> n.Node:
        after = self.next_non_space()
        if after.typ is not Item.RIGHT_DELIM:
            raise self.unexpected(after, "{{" + word + "}}")
        if self.range_depth == 0:
            raise self.error("{{" + word + "}} outside {{range}}")
        return cls(tok.pos, tok.line)

    def pipeline(self, context: str, end: Item) -> n.PipeNode:
        start = self.peek_non_space()
        pipe = n.PipeNode(start.pos, start.line)
        while True:  # decls
            v = self.peek_non_space()
            if v.typ is not Item.VARIABLE:
                break
            self.next_non_space()
            mark = self.i - 1
            nxt = self.peek_non_space()
            if nxt.typ in (Item.ASSIGN, Item.DECLARE):
                pipe.is_assign = nxt.typ is Item.ASSIGN
                self.next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, v.line, v.val.split(".")))
                self.vars.append(v.val)
                break
            if nxt.typ is Item.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, v.line, v.val.split(".")))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (
                        Item.VARIABLE,
                        Item.RIGHT_DELIM,
                        Item.RIGHT_PAREN,
                    ):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            # Not a declaration: put the variable (and the space after it) back.
            self.i = mark
            break
        while True:
            tok = self.next_non_space()
            if tok.typ is end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.typ in (
                Item.BOOL,
                Item.CHAR_CONSTANT,
                Item.COMPLEX,
                Item.DOT,
                Item.FIELD,
                Item.IDENTIFIER,
                Item.NUMBER,
                Item.NIL,
                Item.RAW_STRING,
                Item.STRING,
                Item.VARIABLE,
                Item.LEFT_PAREN,
            ):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def check_pipeline(self, pipe: n.PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(
                cmd.args[0], (n.BoolNode, n.DotNode, n.NilNode, n.NumberNode, n.StringNode)
            ):
                raise self.error(f"non executable command in pipeline stage {i + 2}")

    def parse_control(
        self, cls: type[n.BranchNode], *, allow_else_if: bool, context: str
    ) -> n.BranchNode:
        depth = len(self.vars)
        try:
            pipe = self.pipeline(context, Item.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, n.ElseNode):
                if allow_else_if and self.peek().typ is Item.IF:
                    self.next()
                    else_list = n.ListNode(nxt.pos, nxt.line)
                    else_list.nodes.append(
                        self.parse_control(n.IfNode, allow_else_if=True, context="if")
                    )
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, n.EndNode):
                        raise self.error(f"expected end; found {n.describe(nxt)}")
            return cls(pipe.pos, pipe.line, pipe, body, else_list)
        finally:
            del self.vars[depth:]

    def else_control(self) -> n.Node:
        peek = self.peek_non_space()
        if peek.typ is Item.IF:
            return n.ElseNode(peek.pos, peek.line)
        tok = self.expect(Item.RIGHT_DELIM, "else")
        return n.ElseNode(tok.pos, tok.line)

    def block_control(self) -> n.Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = self.pipeline(context, Item.RIGHT_DELIM)
        saved, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        outer_furthest = self.furthest  # Go parses the body as another tree
        body, end = self.item_list()
        self.vars, self.range_depth = saved, saved_depth
        if not isinstance(end, n.EndNode):
            self.furthest = outer_furthest  # and reports this on the outer one
            raise self.error(f"unexpected {n.describe(end)} in {context}")
        self._add(name, body)
        return n.TemplateNode(tok.pos, tok.line, name, pipe)

    def template_control(self) -> n.Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = None
        if self.next_non_space().typ is not Item.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, Item.RIGHT_DELIM)
        return n.TemplateNode(tok.pos, tok.line, name, pipe)

    def template_name(self, tok: Token, context: str) -> str:
        if tok.typ in (Item.STRING, Item.RAW_STRING):
            return self._unquote(tok)
        raise self.unexpected(tok, context)

    def command(self) -> n.CommandNode:
        cmd = n.CommandNode(self.peek_non_space().pos, self.peek_non_space().line)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ is Item.SPACE:
                continue
            if tok.typ in (Item.RIGHT_DELIM, Item.RIGHT_PAREN):
                self.backup()
            elif tok.typ is not Item.PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> n.Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ is Item.FIELD:
            chain = n.ChainNode(self.peek().pos, self.peek().line, node)
            while self.peek().typ is Item.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, n.FieldNode):
                return n.FieldNode(chain.pos, chain.line, node.ident + chain.fields)
            if isinstance(node, n.VariableNode):
                return n.VariableNode(chain.pos, chain.line, node.ident + chain.fields)
            if isinstance(node, (n.BoolNode, n.StringNode, n.NumberNode, n.NilNode, n.DotNode)):
                raise self.error(f"unexpected . after term {_go_q(n.describe(node))}")
            return chain
        return node

    def term(self) -> n.Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ is Item.IDENTIFIER:
            if tok.val not in self.funcs:
                raise self.error(f"function {_go_q(tok.val)} not defined")
            return n.IdentifierNode(tok.pos, tok.line, tok.val)
        if typ is Item.DOT:
            return n.DotNode(tok.pos, tok.line)
        if typ is Item.NIL:
            return n.NilNode(tok.pos, tok.line)
        if typ is Item.VARIABLE:
            ident = tok.val.split(".")
            if ident[0] not in self.vars:
                raise self.error(f"undefined variable {_go_q(ident[0])}")
            return n.VariableNode(tok.pos, tok.line, ident)
        if typ is Item.FIELD:
            return n.FieldNode(tok.pos, tok.line, tok.val[1:].split("."))
        if typ is Item.BOOL:
            return n.BoolNode(tok.pos, tok.line, tok.val == "true")
        if typ in (Item.CHAR_CONSTANT, Item.COMPLEX, Item.NUMBER):
            return self.number(tok)
        if typ is Item.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", Item.RIGHT_PAREN)
        if typ in (Item.STRING, Item.RAW_STRING):
            return n.StringNode(tok.pos, tok.line, tok.val, self._unquote(tok))
        self.backup()
        return None

    def _unquote(self, tok: Token) -> str:
        try:
            return go_unquote(tok.val)
        except ValueError as err:
            raise self.error(str(err), tok.line) from None

    def number(self, tok: Token) -> n.NumberNode:
        text = tok.val
        node = n.NumberNode(tok.pos, tok.line, text)
        if tok.typ is Item.CHAR_CONSTANT:
            try:
                rune, tail = unquote_char(text[1:], "'")
            except ValueError as err:
                raise self.error(str(err), tok.line) from None
            if tail != "'":
                raise self.error(f"malformed character constant: {text}", tok.line)
            node.int_value = rune
            node.is_int = node.is_uint = node.is_float = True
            node.float_value = float(rune)
            return node
        if tok.typ is Item.COMPLEX:
            value = _parse_complex(text)
            if value is None:  # Go lets fmt.Sscan read it
                raise self.error("syntax error scanning complex number", tok.line)
            node.is_complex = True
            node.complex_value = value
            _simplify_complex(node)
            return node
        if text.endswith("i"):
            imag = parse_float(text[:-1])
            if imag is None:
                raise self.error(f"illegal number syntax: {_go_q(text)}", tok.line)
            node.is_complex = True
            node.complex_value = complex(0, imag)
            _simplify_complex(node)
            return node
        u = parse_int(text, unsigned=True)
        if u is not None:
            node.is_uint = True
            node.int_value = u
        i = parse_int(text, unsigned=False)
        if i is not None:
            node.is_int = True
            node.int_value = i
            if i == 0:
                node.is_uint = True
        if node.is_int or node.is_uint:
            node.is_float = True
            node.float_value = float(node.int_value)
        else:
            f = parse_float(text)
            if f is not None:
                if not re.search(r"[.eEpP]", text):
                    raise self.error(f"integer overflow: {_go_q(text)}", tok.line)
                node.is_float = True
                node.float_value = f
                if math.isfinite(f) and f == math.floor(f):
                    iv = int(f)
                    if -(2**63) <= iv < 2**63:
                        node.is_int = True
                        node.int_value = iv
                    if 0 <= iv < 2**64:
                        node.is_uint = True
                        node.int_value = iv
        if not (node.is_int or node.is_uint or node.is_float):
            raise self.error(f"illegal number syntax: {_go_q(text)}", tok.line)
        return node


def _simplify_complex(node: n.NumberNode) -> None:
    c = node.complex_value
    if c.imag == 0:
        node.is_float = True
        node.float_value = c.real
        if c.real == math.floor(c.real) and -(2**63) <= c.real < 2**63:
            node.is_int = True
            node.int_value = int(c.real)
            if node.int_value >= 0:
                node.is_uint = True


def _parse_complex(text: str) -> complex | None:
    m = re.fullmatch(r"([+-]?[^+-]*(?:[eEpP][+-][^+-]*)?)([+-].*)i", text)
    if not m:
        return None
    real, imag = parse_float(m.group(1)), parse_float(m.group(2))
    if real is None or imag is None:
        return None
    return complex(real, imag)


def _go_q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_empty(body: n.ListNode) -> bool:
    for node in body.nodes:
        if isinstance(node, n.TextNode):
            if node.text.strip(" \t\r\n\v\f"):
                return False
        else:
            return False
    return True


def parse(text: str, funcs: Container[str], name: str = "t") -> Template:
    """Parse ``text``; an identifier must name one of ``funcs``."""
    return _Parser(name, text, funcs).parse()
