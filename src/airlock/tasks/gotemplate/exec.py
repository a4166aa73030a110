"""The executor of Go's ``text/template`` (``exec.go``) over plain data, ``missingkey=zero``.

Nothing in a template can run code: fields only read maps (a :class:`Strict` map refuses
unknown names, like a Go struct), and the only callables are the functions of
:mod:`airlock.tasks.gotemplate.funcs`. Output written by an action is never parsed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.tasks.gotemplate import nodes as n
from airlock.tasks.gotemplate.errors import ExecError
from airlock.tasks.gotemplate.funcs import FUNCS, Func, FuncError, convert_arg
from airlock.tasks.gotemplate.parser import Template
from airlock.tasks.gotemplate.values import (
    NIL,
    IMap,
    StrMap,
    print_value,
    sort_key,
    truth,
    type_name,
    unwrap,
)

MAX_DEPTH = 1000  # nested {{template}} calls
MAX_OUTPUT = 64 << 20  # characters one execution may write
_MISSING = object()  # no piped value


class Strict(dict[str, Any]):
    """A map that behaves like a Go struct: an unknown field is an error, not empty."""


@dataclass
class Trace:
    """What an execution read: the dotted names that were missing, and every value printed
    that came from under a tainted root (secrets)."""

    tainted_root: str | None = None
    missing: list[str] = field(default_factory=list)
    tainted: set[str] = field(default_factory=set)


class _Break(Exception):  # noqa: N818
    pass


class _Continue(Exception):  # noqa: N818
    pass


class Executor:
    def __init__(self, tmpl: Template, text: str, trace: Trace) -> None:
        self.tmpl = tmpl
        self.text = text
        self.trace = trace
        self.out: list[str] = []
        self.vars: list[tuple[str, Any]] = []
        self.tainted_vars: set[str] = set()
        self.depth = 0
        self.size = 0
        self.taint = False  # the value being evaluated came from a tainted root
        self.dot_taint = False  # dot came from a tainted root (inside with/range)
        self.missing: list[str] = []

    def error(self, node: n.Node | None, message: str) -> ExecError:
        if node is None:
            return ExecError(message)
        line = self.text.count("\n", 0, node.pos) + 1
        column = node.pos - (self.text.rfind("\n", 0, node.pos) + 1) + 1
        return ExecError(message, line, column, node.pos)

    # walking ------------------------------------------------------------------------------

    def walk(self, dot: Any, node: n.Node) -> None:
        if isinstance(node, n.TextNode):
            self.size += len(node.text)
            if self.size > MAX_OUTPUT:
                raise self.error(node, f"output longer than {MAX_OUTPUT} characters")
            self.out.append(node.text)
        elif isinstance(node, n.ActionNode):
            assert node.pipe is not None
            self.taint = self.dot_taint
            self.missing = []
            value = self.pipeline(dot, node.pipe)
            if not node.pipe.decl:
                text = print_value(value)
                if self.taint and text and text != "<no value>":
                    self.trace.tainted.add(text)
                if text in ("", "<no value>"):
                    self.trace.missing.extend(self.missing)
                self.size += len(text)
                if self.size > MAX_OUTPUT:
                    raise self.error(node, f"output longer than {MAX_OUTPUT} characters")
                self.out.append(text)
        elif isinstance(node, n.ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, (n.IfNode, n.WithNode)):
            mark = len(self.vars)
            assert node.pipe is not None
            saved = self.dot_taint
            self.taint = saved
            value = self.pipeline(dot, node.pipe)
            if truth(value):
                assert node.list is not None
                if isinstance(node, n.WithNode):
                    self.dot_taint = self.taint
                    self.walk(value, node.list)
                else:
                    self.walk(dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
            self.dot_taint = saved
            del self.vars[mark:]
        elif isinstance(node, n.RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, n.TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, n.BreakNode):
            raise _Break
        elif isinstance(node, n.ContinueNode):
            raise _Continue
        else:
            raise self.error(node, f"unknown node: {type(node).__name__}")

    def walk_range(self, dot: Any, node: n.RangeNode) -> None:
        mark = len(self.vars)
        assert node.pipe is not None and node.list is not None
        saved = self.dot_taint
        self.taint = saved
        value = unwrap(self.pipeline(dot, node.pipe))
        self.dot_taint = self.taint
        items: list[tuple[Any, Any]]
        if value is None:
            items = []
        elif isinstance(value, list):
            items = [(i, NIL if v is None else v) for i, v in enumerate(value)]
        elif isinstance(value, dict):
            items = [
                (k, NIL if value[k] is None else value[k]) for k in sorted(value, key=sort_key)
            ]
        else:
            raise self.error(node, f"range can't iterate over {print_value(value)}")
        for key, elem in items:
            inner = len(self.vars)
            if node.pipe.decl:
                if node.pipe.is_assign:
                    if len(node.pipe.decl) > 1:
                        self.set_var(node.pipe.decl[0].ident[0], key)
                        self.set_var(node.pipe.decl[1].ident[0], elem)
                    else:
                        self.set_var(node.pipe.decl[0].ident[0], elem)
                elif len(node.pipe.decl) > 1:
                    self.vars[-1] = (node.pipe.decl[1].ident[0], elem)
                    self.vars[-2] = (node.pipe.decl[0].ident[0], key)
                else:
                    self.vars[-1] = (node.pipe.decl[0].ident[0], elem)
            try:
                self.walk(elem, node.list)
            except _Break:
                del self.vars[inner:]
                break
            except _Continue:
                pass
            del self.vars[inner:]
        else:
            if not items and node.else_list is not None:
                self.dot_taint = saved
                self.walk(dot, node.else_list)
        self.dot_taint = saved
        del self.vars[mark:]

    def walk_template(self, dot: Any, node: n.TemplateNode) -> None:
        body = self.tmpl.defined.get(node.name)
        if body is None:
            raise self.error(
                node, f'template: no template "{node.name}" associated with template "t"'
            )
        new_dot = unwrap(self.pipeline(dot, node.pipe)) if node.pipe is not None else None
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(node, f"exceeded maximum template depth ({MAX_DEPTH})")
        saved = self.vars
        self.vars = [("$", new_dot)]
        try:
            self.walk(new_dot, body)
        finally:
            self.vars = saved
            self.depth -= 1

    # variables ----------------------------------------------------------------------------

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise ExecError(f"undefined variable: {name}")

    def var_value(self, name: str, node: n.Node) -> Any:
        if name in self.tainted_vars:
            self.taint = True
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        raise self.error(node, f"undefined variable: {name}")

    # pipelines ----------------------------------------------------------------------------

    def pipeline(self, dot: Any, pipe: n.PipeNode | None) -> Any:
        if pipe is None:
            return None
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = unwrap(self.command(dot, cmd, value))
        for var in pipe.decl:
            if self.taint:
                self.tainted_vars.add(var.ident[0])  # conservative: for the rest of the run
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append((var.ident[0], value))
        return value

    def not_a_function(self, args: list[n.Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.error(args[0], f"can't give argument to non-function {n.describe(args[0])}")

    def command(self, dot: Any, cmd: n.CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, n.FieldNode):
            return self.field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, n.ChainNode):
            return self.chain(dot, first, cmd.args, final)
        if isinstance(first, n.IdentifierNode):
            return self.call(dot, first, cmd, cmd.args, final)
        if isinstance(first, n.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.pipeline(dot, first)
        if isinstance(first, n.VariableNode):
            return self.variable(dot, first, cmd.args, final)
        self.not_a_function(cmd.args, final)
        if isinstance(first, n.BoolNode):
            return first.value
        if isinstance(first, n.DotNode):
            self.taint = self.taint or self.dot_taint
            return dot
        if isinstance(first, n.NilNode):
            raise self.error(first, "nil is not a command")
        if isinstance(first, n.NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, n.StringNode):
            return first.text
        raise self.error(first, f"can't evaluate command {n.describe(first)}")

    def ideal_constant(self, node: n.NumberNode) -> Any:
        if node.is_complex:
            return node.complex_value
        if (
            node.is_float
            and not _is_hex_int(node.text)
            and not _is_rune_int(node.text)
            and any(c in node.text for c in ".eEpP")
        ):
            return node.float_value
        if node.is_int:
            return node.int_value
        if node.is_uint:
            raise self.error(node, f"{node.text} overflows int")
        return node.float_value

    def variable(self, dot: Any, node: n.VariableNode, args: list[n.Node], final: Any) -> Any:
        value = self.var_value(node.ident[0], node)
        if len(node.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.field_chain(dot, value, node, node.ident[1:], args, final)

    def chain(self, dot: Any, chain: n.ChainNode, args: list[n.Node], final: Any) -> Any:
        if not chain.fields:
            raise self.error(chain, "internal error: no fields in evalChainNode")
        if isinstance(chain.node, n.NilNode):
            raise self.error(chain, f"indirection through explicit nil in {n.describe(chain)}")
        assert chain.node is not None
        pipe = unwrap(self.arg_any(dot, chain.node))
        return self.field_chain(dot, pipe, chain, chain.fields, args, final)

    def field_chain(
        self,
        dot: Any,
        receiver: Any,
        node: n.Node,
        ident: list[str],
        args: list[n.Node],
        final: Any,
    ) -> Any:
        if receiver is dot:
            self.taint = self.taint or self.dot_taint
        prefix = "." if isinstance(node, n.FieldNode) else ""
        if isinstance(node, n.VariableNode):
            prefix = node.ident[0] + "."
        for i, name in enumerate(ident[:-1]):
            path = prefix + ".".join(ident[: i + 1])
            receiver = self.field(receiver, name, node, [], _MISSING, path)
        return self.field(receiver, ident[-1], node, args, final, prefix + ".".join(ident))

    def field(
        self, receiver: Any, name: str, node: n.Node, args: list[n.Node], final: Any, path: str
    ) -> Any:
        if receiver is None:
            return None
        if receiver is NIL:
            raise self.error(node, f"nil pointer evaluating interface {{}}.{name}")
        has_args = len(args) > 1 or final is not _MISSING
        if isinstance(receiver, Strict):
            if name not in receiver:
                known = ", ".join(receiver)
                raise self.error(node, f"unknown field {path} (known under it: {known})")
            if has_args:
                raise self.error(node, f"{name} has arguments but cannot be invoked as function")
            return self._slot(receiver[name], node)
        if isinstance(receiver, dict):
            if has_args:
                raise self.error(node, f"{name} is not a method but has arguments")
            if name not in receiver:
                self.missing.append(path.lstrip("."))
                return "" if isinstance(receiver, StrMap) else NIL
            return self._slot(receiver[name], node)
        raise self.error(node, f"can't evaluate field {name} in type {type_name(receiver)}")

    def _slot(self, value: Any, node: n.Node) -> Any:
        root = self.trace.tainted_root
        if root is not None:
            if isinstance(node, n.FieldNode) and node.ident[:1] == [root]:
                self.taint = True
            if isinstance(node, n.VariableNode) and node.ident[:2] == ["$", root]:
                self.taint = True
        return NIL if value is None else value

    # function calls -----------------------------------------------------------------------

    def call(
        self, dot: Any, ident: n.IdentifierNode, cmd: n.Node, args: list[n.Node], final: Any
    ) -> Any:
        name = ident.name
        fn = FUNCS.get(name)
        if fn is None:
            raise self.error(ident, f'"{name}" is not a defined function')
        operands = args[1:]
        if name in ("and", "or"):
            return self.and_or(dot, name, ident, operands, final)
        count = len(operands) + (0 if final is _MISSING else 1)
        fixed = len(fn.params) - (1 if fn.variadic else 0)
        if fn.variadic:
            if count < fixed:
                raise self.error(
                    ident, f"wrong number of args for {name}: want at least {fixed} got {count}"
                )
        elif count != len(fn.params):
            raise self.error(
                ident, f"wrong number of args for {name}: want {len(fn.params)} got {count}"
            )
        values: list[Any] = []
        for i, arg in enumerate(operands):
            kind = fn.params[min(i, len(fn.params) - 1)]
            values.append(self.arg(dot, kind, arg))
        if final is not _MISSING:
            kind = fn.params[min(len(operands), len(fn.params) - 1)] if fn.params else "a"
            values.append(self.check(kind, final, ident))
        try:
            return fn.impl(*values)
        except FuncError as err:
            raise self.error(ident, f"error calling {name}: {err}") from None
        except (
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            ZeroDivisionError,
            OverflowError,
        ) as err:
            raise self.error(ident, f"error calling {name}: {err}") from None

    def and_or(self, dot: Any, name: str, ident: n.Node, operands: list[n.Node], final: Any) -> Any:
        count = len(operands) + (0 if final is _MISSING else 1)
        if count < 1:
            raise self.error(ident, f"wrong number of args for {name}: want at least 1 got 0")
        value: Any = None
        for arg in operands:
            value = None if isinstance(arg, n.NilNode) else unwrap(self.arg_any(dot, arg))
            if truth(value) != (name == "and"):
                return value
        if final is not _MISSING:
            value = unwrap(final)
        return value

    def check(self, kind: str, value: Any, node: n.Node) -> Any:
        try:
            return convert_arg(kind, value)
        except FuncError as err:
            raise self.error(node, str(err)) from None

    def arg(self, dot: Any, kind: str, node: n.Node) -> Any:
        if isinstance(node, n.NilNode):
            if kind in ("a", "l", "d"):
                return None
            raise self.error(node, f"cannot assign nil to {_kind_name(kind)}")
        if isinstance(node, (n.BoolNode, n.NumberNode, n.StringNode)):
            return self.literal_arg(kind, node)
        return self.check(kind, self.arg_any(dot, node), node)

    def literal_arg(self, kind: str, node: n.Node) -> Any:
        if kind == "a":
            if isinstance(node, n.NumberNode):
                return self.ideal_constant(node)
            return node.value if isinstance(node, n.BoolNode) else node.text  # type: ignore[attr-defined]
        if kind == "b" and isinstance(node, n.BoolNode):
            return node.value
        if kind == "s" and isinstance(node, n.StringNode):
            return node.text
        if kind == "i" and isinstance(node, n.NumberNode) and node.is_int:
            return node.int_value
        if kind == "f" and isinstance(node, n.NumberNode) and node.is_float:
            return node.float_value
        expected = {"b": "bool", "s": "string", "i": "integer", "f": "float"}.get(kind)
        if expected is None:
            raise self.error(
                node, f"can't handle {n.describe(node)} for arg of type {_kind_name(kind)}"
            )
        raise self.error(node, f"expected {expected}; found {n.describe(node)}")

    def arg_any(self, dot: Any, node: n.Node) -> Any:
        if isinstance(node, n.DotNode):
            self.taint = self.taint or self.dot_taint
            return dot
        if isinstance(node, n.NilNode):
            raise self.error(node, "evalEmptyInterface: nil (can't happen)")
        if isinstance(node, n.FieldNode):
            return self.field_chain(dot, dot, node, node.ident, [node], _MISSING)
        if isinstance(node, n.VariableNode):
            return self.variable(dot, node, [node], _MISSING)
        if isinstance(node, n.PipeNode):
            return self.pipeline(dot, node)
        if isinstance(node, n.IdentifierNode):
            return self.call(dot, node, node, [node], _MISSING)
        if isinstance(node, n.ChainNode):
            return self.chain(dot, node, [], _MISSING)
        if isinstance(node, n.BoolNode):
            return node.value
        if isinstance(node, n.NumberNode):
            return self.ideal_constant(node)
        if isinstance(node, n.StringNode):
            return node.text
        raise self.error(
            node, f"can't handle assignment of {n.describe(node)} to empty interface argument"
        )


def _kind_name(kind: str) -> str:
    return {
        "a": "interface {}",
        "s": "string",
        "i": "int",
        "f": "float64",
        "b": "bool",
        "l": "[]interface {}",
        "d": "map[string]interface {}",
    }.get(kind, kind)


def _is_hex_int(text: str) -> bool:
    t = text.lstrip("+-")
    return len(t) > 2 and t[0] == "0" and t[1] in "xX" and not any(c in t for c in ".pP")


def _is_rune_int(text: str) -> bool:
    return text.startswith("'")


def to_data(value: Any, depth: int = 0) -> Any:
    """Input data as acr-builder holds it: the root and each map in it (``.Values``,
    ``.Secrets``, ``.Run``) are ``map[string]interface{}``; mappings deeper down come from
    YAML and are ``map[interface{}]interface{}``."""
    if isinstance(value, Strict):
        return Strict({k: to_data(v, depth + 1) for k, v in value.items()})
    if isinstance(value, Mapping):
        items = {k: to_data(v, depth + 1) for k, v in value.items()}
        return dict(items) if depth <= 1 else IMap(items)
    if isinstance(value, (list, tuple)):
        return [to_data(v, depth + 1) for v in value]
    return value


def execute(tmpl: Template, text: str, data: Any, trace: Trace | None = None) -> str:
    """Run ``tmpl`` (parsed from ``text``, for error positions) with ``data`` as dot and ``$``."""
    ex = Executor(tmpl, text, trace or Trace())
    ex.vars = [("$", data)]
    try:
        ex.walk(data, tmpl.root)
    except RecursionError:
        raise ExecError("exceeded maximum template depth") from None
    return "".join(ex.out)


__all__ = ["FUNCS", "Func", "IMap", "Strict", "Trace", "execute", "to_data"]
