"""The lexer of Go's ``text/template/parse`` (``lex.go``), item for item."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import Any


class Item(Enum):
    ERROR = auto()
    BOOL = auto()
    CHAR = auto()
    CHAR_CONSTANT = auto()
    COMMENT = auto()
    COMPLEX = auto()
    ASSIGN = auto()
    DECLARE = auto()
    EOF = auto()
    FIELD = auto()
    IDENTIFIER = auto()
    LEFT_DELIM = auto()
    LEFT_PAREN = auto()
    NUMBER = auto()
    PIPE = auto()
    RAW_STRING = auto()
    RIGHT_DELIM = auto()
    RIGHT_PAREN = auto()
    SPACE = auto()
    STRING = auto()
    TEXT = auto()
    VARIABLE = auto()
    # keywords
    BLOCK = auto()
    BREAK = auto()
    CONTINUE = auto()
    DOT = auto()
    DEFINE = auto()
    ELSE = auto()
    END = auto()
    IF = auto()
    NIL = auto()
    RANGE = auto()
    TEMPLATE = auto()
    WITH = auto()


KEYWORDS = {
    ".": Item.DOT,
    "block": Item.BLOCK,
    "break": Item.BREAK,
    "continue": Item.CONTINUE,
    "define": Item.DEFINE,
    "else": Item.ELSE,
    "end": Item.END,
    "if": Item.IF,
    "range": Item.RANGE,
    "nil": Item.NIL,
    "template": Item.TEMPLATE,
    "with": Item.WITH,
}

LEFT_DELIM = "{{"
RIGHT_DELIM = "}}"
LEFT_COMMENT = "/*"
RIGHT_COMMENT = "*/"
SPACE_CHARS = " \t\r\n"
EOF = ""


@dataclass(frozen=True)
class Token:
    typ: Item
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        if self.typ is Item.EOF:
            return "EOF"
        if self.typ is Item.ERROR:
            return self.val
        if self.typ.name in _KEYWORD_NAMES:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return f"{_go_quote(self.val[:10])}..."
        return _go_quote(self.val)


_KEYWORD_NAMES = {v.name for v in KEYWORDS.values()}


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def is_space(ch: str) -> bool:
    return ch != "" and ch in SPACE_CHARS


def is_alnum(ch: str) -> bool:
    return ch == "_" or (ch != "" and (ch.isalpha() or ch.isdecimal()))


def _has_left_trim(s: str, i: int) -> bool:
    return len(s) >= i + 2 and s[i] == "-" and is_space(s[i + 1])


def _has_right_trim(s: str, i: int) -> bool:
    return len(s) >= i + 2 and is_space(s[i]) and s[i + 1] == "-"


def _unicode_name(ch: str) -> str:
    """Go's ``%#U``: ``U+0041 'A'``."""
    code = f"U+{ord(ch):04X}"
    return f"{code} '{ch}'" if ch.isprintable() else code


class _Stop(Exception):  # noqa: N818
    pass


class _Lexer:
    def __init__(self, text: str, *, emit_comments: bool = False) -> None:
        self.emit_comments = emit_comments
        self.input = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0
        self.at_eof = False
        self.items: list[Token] = []

    def next(self) -> str:
        if self.pos >= len(self.input):
            self.at_eof = True
            return EOF
        ch = self.input[self.pos]
        self.pos += 1
        if ch == "\n":
            self.line += 1
        return ch

    def peek(self) -> str:
        ch = self.next()
        self.backup()
        return ch

    def backup(self) -> None:
        if not self.at_eof and self.pos > 0:
            self.pos -= 1
            if self.input[self.pos] == "\n":
                self.line -= 1

    def emit(self, typ: Item) -> None:
        self.items.append(
            Token(typ, self.start, self.input[self.start : self.pos], self.start_line)
        )
        self.start = self.pos
        self.start_line = self.line

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        ch = self.next()
        if ch != EOF and ch in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            ch = self.next()
            if ch == EOF or ch not in valid:
                break
        self.backup()

    def error(self, message: str) -> None:
        # As Go's lexer: an error item, then nothing; the parser reports it when it gets there.
        self.items.append(Token(Item.ERROR, self.start, message, self.start_line))
        raise _Stop

    def run(self) -> list[Token]:
        state: Any = self.lex_text
        try:
            while state is not None:
                state = state()
        except _Stop:
            pass
        return self.items

    # states -------------------------------------------------------------------------------

    def lex_text(self) -> object:
        x = self.input.find(LEFT_DELIM, self.pos)
        if x >= 0:
            self.pos = x
            trim = 0
            if _has_left_trim(self.input, x + 2):
                before = self.input[self.start : self.pos]
                trim = len(before) - len(before.rstrip(SPACE_CHARS))
            self.pos -= trim
            if self.pos > self.start:
                self.line += self.input.count("\n", self.start, self.pos)
                self.emit(Item.TEXT)
            self.pos += trim
            self.ignore()
            return self.lex_left_delim
        self.pos = len(self.input)
        if self.pos > self.start:
            self.line += self.input.count("\n", self.start, self.pos)
            self.emit(Item.TEXT)
        self.emit(Item.EOF)
        return None

    def at_right_delim(self) -> tuple[bool, bool]:
        if _has_right_trim(self.input, self.pos) and self.input.startswith(
            RIGHT_DELIM, self.pos + 2
        ):
            return True, True
        if self.input.startswith(RIGHT_DELIM, self.pos):
            return True, False
        return False, False

    def _left_trim_length(self) -> int:
        rest = self.input[self.pos :]
        return len(rest) - len(rest.lstrip(SPACE_CHARS))

    def lex_left_delim(self) -> object:
        self.pos += len(LEFT_DELIM)
        trim = _has_left_trim(self.input, self.pos)
        after = 2 if trim else 0
        if self.input.startswith(LEFT_COMMENT, self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        self.emit(Item.LEFT_DELIM)
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> object:
        self.pos += len(LEFT_COMMENT)
        i = self.input.find(RIGHT_COMMENT, self.pos)
        if i < 0:
            self.error("unclosed comment")
        self.pos = i + len(RIGHT_COMMENT)
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
        if self.emit_comments:
            self.emit(Item.COMMENT)
        if trim:
            self.pos += 2
        self.pos += len(RIGHT_DELIM)
        if trim:
            self.pos += self._left_trim_length()
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> object:
        trim = _has_right_trim(self.input, self.pos)
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(RIGHT_DELIM)
        self.emit(Item.RIGHT_DELIM)
        if trim:
            self.pos += self._left_trim_length()
            self.ignore()
        return self.lex_text

    def lex_inside_action(self) -> object:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
        ch = self.next()
        if ch == EOF:
            self.error("unclosed action")
        elif is_space(ch):
            self.backup()
            return self.lex_space
        elif ch == "=":
            self.emit(Item.ASSIGN)
        elif ch == ":":
            if self.next() != "=":
                self.error("expected :=")
            self.emit(Item.DECLARE)
        elif ch == "|":
            self.emit(Item.PIPE)
        elif ch == '"':
            return self.lex_quote
        elif ch == "`":
            return self.lex_raw_quote
        elif ch == "$":
            return self.lex_variable
        elif ch == "'":
            return self.lex_char
        elif ch == "." and not (self.pos < len(self.input) and "0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        elif ch in "+-." or "0" <= ch <= "9":
            self.backup()
            return self.lex_number
        elif is_alnum(ch):
            self.backup()
            return self.lex_identifier
        elif ch == "(":
            self.emit(Item.LEFT_PAREN)
            self.paren_depth += 1
        elif ch == ")":
            self.emit(Item.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error(f"unexpected right paren {_unicode_name(ch)}")
        elif ord(ch) <= 0x7F and ch.isprintable():
            self.emit(Item.CHAR)
        else:
            self.error(f"unrecognized character in action: {_unicode_name(ch)}")
        return self.lex_inside_action

    def lex_space(self) -> object:
        spaces = 0
        while is_space(self.peek()):
            self.next()
            spaces += 1
        if _has_right_trim(self.input, self.pos - 1) and self.input.startswith(
            RIGHT_DELIM, self.pos + 1
        ):
            self.backup()
            if spaces == 1:
                return self.lex_right_delim
        self.emit(Item.SPACE)
        return self.lex_inside_action

    def lex_identifier(self) -> object:
        while True:
            ch = self.next()
            if is_alnum(ch):
                continue
            self.backup()
            word = self.input[self.start : self.pos]
            if not self.at_terminator():
                self.error(f"bad character {_unicode_name(ch)}")
            if word in KEYWORDS and word != ".":
                self.emit(KEYWORDS[word])
            elif word[0] == ".":
                self.emit(Item.FIELD)
            elif word in ("true", "false"):
                self.emit(Item.BOOL)
            else:
                self.emit(Item.IDENTIFIER)
            return self.lex_inside_action

    def lex_field(self) -> object:
        return self._field_or_variable(Item.FIELD)

    def lex_variable(self) -> object:
        if self.at_terminator():
            self.emit(Item.VARIABLE)
            return self.lex_inside_action
        return self._field_or_variable(Item.VARIABLE)

    def _field_or_variable(self, typ: Item) -> object:
        if self.at_terminator():
            self.emit(Item.VARIABLE if typ is Item.VARIABLE else Item.DOT)
            return self.lex_inside_action
        while True:
            ch = self.next()
            if not is_alnum(ch):
                self.backup()
                break
        if not self.at_terminator():
            self.error(f"bad character {_unicode_name(ch)}")
        self.emit(typ)
        return self.lex_inside_action

    def at_terminator(self) -> bool:
        ch = self.peek()
        if is_space(ch) or ch == EOF or ch in ".,|:)(":
            return True
        return self.input.startswith(RIGHT_DELIM, self.pos)

    def _quoted(self, quote: str, what: str) -> None:
        while True:
            ch = self.next()
            if ch == "\\":
                nxt = self.next()
                if nxt not in (EOF, "\n"):
                    continue
                self.error(f"unterminated {what}")
            if ch in (EOF, "\n"):
                self.error(f"unterminated {what}")
            if ch == quote:
                return

    def lex_char(self) -> object:
        self._quoted("'", "character constant")
        self.emit(Item.CHAR_CONSTANT)
        return self.lex_inside_action

    def lex_quote(self) -> object:
        self._quoted('"', "quoted string")
        self.emit(Item.STRING)
        return self.lex_inside_action

    def lex_raw_quote(self) -> object:
        while True:
            ch = self.next()
            if ch == EOF:
                self.error("unterminated raw quoted string")
            if ch == "`":
                break
        self.emit(Item.RAW_STRING)
        return self.lex_inside_action

    def lex_number(self) -> object:
        if not self.scan_number():
            self.error(f"bad number syntax: {_go_quote(self.input[self.start : self.pos])}")
        if self.peek() in ("+", "-"):
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                self.error(f"bad number syntax: {_go_quote(self.input[self.start : self.pos])}")
            self.emit(Item.COMPLEX)
        else:
            self.emit(Item.NUMBER)
        return self.lex_inside_action

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()):
            self.next()
            return False
        return True


def lex(text: str, *, emit_comments: bool = False) -> list[Token]:
    """All items of ``text``, the last an EOF or (after a lexical error) an ERROR item."""
    return _Lexer(text, emit_comments=emit_comments).run()
