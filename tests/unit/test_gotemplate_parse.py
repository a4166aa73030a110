"""The lexer and parser against Go's own tables (text/template/parse lex_test.go and
parse_test.go, Go 1.19): the same items, the same refusals on the same lines."""

from __future__ import annotations

import pytest

from airlock.tasks.gotemplate import ParseError, parse
from airlock.tasks.gotemplate.funcs import FUNCS
from airlock.tasks.gotemplate.lexer import lex


def items(text: str) -> list[tuple[str, str]]:
    return [(t.typ.name, t.val) for t in lex(text)]


def test_trim_markers_need_a_space_and_eat_all_space() -> None:
    assert items("a \n {{- .x -}} \t\nb") == [
        ("TEXT", "a"), ("LEFT_DELIM", "{{"), ("FIELD", ".x"), ("RIGHT_DELIM", "}}"),
        ("TEXT", "b"), ("EOF", ""),
    ]  # fmt: skip
    assert items("{{ .x  -}}")[2:4] == [
        ("FIELD", ".x"),
        ("SPACE", " "),
    ]  # one space is the marker's
    # {{-3}} is the number -3, not a trim marker; {{-\t is one.
    assert items("x {{-3}}")[1:3] == [("LEFT_DELIM", "{{"), ("NUMBER", "-3")]
    assert items("x {{-\t.y}}")[:2] == [("TEXT", "x"), ("LEFT_DELIM", "{{")]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("0x1F", "NUMBER"), ("0o17", "NUMBER"), ("0b101", "NUMBER"), ("1_000", "NUMBER"),
        ("1e3", "NUMBER"), (".5", "NUMBER"), ("0x1p-2", "NUMBER"), ("1+2i", "COMPLEX"),
        ("'a'", "CHAR_CONSTANT"), ("'\\n'", "CHAR_CONSTANT"), ('"a\\"b"', "STRING"),
        ("`a\nb`", "RAW_STRING"), ("$x", "VARIABLE"), ("$", "VARIABLE"), (".a", "FIELD"),
        ("café", "IDENTIFIER"), ("true", "BOOL"), ("nil", "NIL"), ("range", "RANGE"),
        ("break", "BREAK"), ("continue", "CONTINUE"),
    ],
)  # fmt: skip
def test_items(text: str, kind: str) -> None:
    assert items("{{" + text + "}}")[1] == (kind, text)


def test_a_string_can_hold_the_right_delimiter_and_comments_are_dropped() -> None:
    assert items('{{ "}}" }}')[2] == ("STRING", '"}}"')
    assert items("a {{- /* c */ -}} b") == [("TEXT", "a"), ("TEXT", "b"), ("EOF", "")]


# Go's errorTests (parse_test.go): text, the line Go reports (0: not checked), a fragment.
ERRORS = [
    ("line1\n{{", 2, "unclosed action"),
    ("line1\n{{define `x`}}line2\n{{", 3, "unclosed action"),
    ('line1\n{{"x"\n"y"\n', 4, "unclosed action started at t:2"),
    ("{{\n\n\n\n\n", 6, "unclosed action started at t:1"),
    ("line1\n{{\nx\n}}", 3, 'function "x" not defined'),
    ("{{foo}}", 1, 'function "foo" not defined'),
    ("{{/*}}", 1, "unclosed comment"),
    ("{{/*\nhello\n}}", 1, "unclosed comment"),
    ("{{.X (1 2 3}}", 1, "unclosed left paren"),
    ("{{.X 1 2 3 ) }}", 1, 'unexpected ")" in command'),
    ("{{(.X 1 2 3", 1, "unclosed action"),
    ("{{`x`3}}", 1, "in operand"),
    ("{{a#}}", 1, "'#'"),
    ("{{'a}}", 1, "unterminated character constant"),
    ('{{"a}}', 1, "unterminated quoted string"),
    ("{{`a}}", 1, "unterminated raw quoted string"),
    ("{{0xi}}", 1, "number syntax"),
    ("{{define `a`}}a{{end}}{{define `a`}}b{{end}}", 1, "multiple definition of template"),
    ("{{range .X}}", 1, "unexpected EOF"),
    ("{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}", 1, 'unexpected ":="'),
    ("{{$a,$b,$c := 23}}", 1, "too many declarations"),
    ("{{$a}}", 1, "undefined variable"),
    ("{{true.any}}", 1, "unexpected . after term"),
    ("{{12|false}}", 1, "non executable command in pipeline"),
    ("{{ ( ) }}", 1, "missing value for parenthesized pipeline"),
    ("{{ $v := `\n` }} {{", 2, "unclosed action"),
    ("{{range $k}}{{end}}", 1, "undefined variable"),
    ("{{range $k, $v}}{{end}}", 1, "undefined variable"),
    ("{{range $k,}}{{end}}", 1, "missing value for range"),
    ("{{range $k, $v := }}{{end}}", 1, "missing value for range"),
    ("{{range $k, .}}{{end}}", 1, "range can only initialize variables"),
    ("{{range $k, 123 := .}}{{end}}", 1, "range can only initialize variables"),
    ("{{break}}", 1, "{{break}} outside {{range}}"),
    ("{{if .x}}{{continue}}{{end}}", 1, "{{continue}} outside {{range}}"),
    ("{{else}}", 1, "unexpected {{else}}"),
    ("{{ get . `a` }}", 1, 'function "get" not defined'),  # Sprig v3's, not v2's
]


@pytest.mark.parametrize(("text", "line", "fragment"), ERRORS)
def test_go_refuses_these_and_so_do_we(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(text, FUNCS)
    assert fragment in caught.value.message
    assert caught.value.line == line


@pytest.mark.parametrize(
    "text",
    [
        "{{if .a}}x{{else if .b}}y{{else}}z{{end}}",
        "{{range $i, $e := .l}}{{if $i}}{{break}}{{end}}{{continue}}{{end}}",
        "{{with $x := .a}}{{$x}}{{else}}none{{end}}",
        "{{define `d`}}{{.}}{{end}}{{template `d` .x}}{{block `b` .}}b{{end}}",
        "{{$x := 1}}{{$x = 2}}{{(len .l) | printf `%d`}}{{.a.b.c}}{{$.x}}{{(.m).k}}",
        "{{- /* a comment */ -}}{{ 'a' }}{{ 1_000 }}{{ 0x_1F }}{{ nil | default 1 }}",
    ],
)
def test_the_whole_language_parses(text: str) -> None:
    assert parse(text, FUNCS).root.nodes
