"""Executing templates: each expected output below is what tests/go/render (Go 1.19's
text/template with Sprig v2, as acr-builder renders) printed for the same template and data.
The integration tier compares with Go directly; these keep the answers when Go is absent."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest

from airlock.tasks import gotemplate
from airlock.tasks.gotemplate import ExecError, ParseError, render
from airlock.tasks.gotemplate.funcs import FUNCS

DATA: dict[str, Any] = {
    "s": "café", "n": 42, "f": 2.5, "big": 1e6, "l": ["a", "b"],
    "m": {"k": "v", "n": {"x": 1}}, "nul": None, "e": "",
}  # fmt: skip

FROM_GO = [
    ("{{ .m }} {{ .l }} {{ .big }} {{ .f }} {{ .nul }}|{{ .missing }}|",
     "map[k:v n:map[x:1]] [a b] 1e+06 2.5 ||"),
    ('{{ printf "%5.1f|%-4s|%q|%x|%v" .f .s .s 255 .m }}',
     '  2.5|café|"café"|ff|map[k:v n:map[x:1]]'),
    ('{{ print 1 2 "a" 3 }}|{{ println .l }}', "1 2a3|[a b]\n"),
    ('{{ len .s }} {{ index .s 1 }} {{ index .m.n "x" }} {{ index .m "zz" }}', "5 97 1 "),
    ("{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}", "k=v;n=map[x:1];"),
    ("{{ range .l }}{{ . }}{{ else }}empty{{ end }}{{ range .nul }}x{{ else }}none{{ end }}",
     "abnone"),
    ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}", "2"),
    ('{{ and 1 0 2 }} {{ or 0 "" "z" }} {{ not .e }} {{ eq .n 42 41 }} {{ lt 1 2 }}',
     "0 z true true true"),
    ('{{ add 1 "2" "0x10" }} {{ int "010" }} {{ trunc 2 "abc" }} {{ mul 3 4 | printf "%T" }}',
     "3 10 ab int64"),  # Sprig v2: strings are base 10 ("0x10" is 0), arithmetic is int64
    ('{{ b64enc .n }} {{ b64enc .s }} {{ b64dec "Y2Fmw6k=" }} {{ b64dec "!!" }}',
     "PGludCBWYWx1ZT4= Y2Fmw6k= café illegal base64 data at input byte 0"),
    ('{{ toJson .l }} {{ toJson .m }} {{ dict "a" 1 | toJson }}', '["a","b"]  {"a":1}'),
    ("{{ \"\\u00e9\\x41\" }} {{ 'a' }} {{ 0x1F }} {{ 1_000 }} {{ 1e3 }} {{ 017 }}",
     "éA 97 31 1000 1000 15"),
    ('{{ default "d" .missing }} {{ default "d" .e }} {{ .missing | default "p" }}', "d d p"),
    ('{{ splitList "," "a,b" | join "-" }} {{ split "/" "a/b" }} {{ (split "/" "a/b")._1 }}',
     "a-b map[_0:a _1:b] b"),
    ('{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" .n }}{{ block "y" .s }}<{{ . }}>{{ end }}',
     "[42]<café>"),
    ('{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }} {{ regexFindAll "[0-9]+" "a1b22" -1 }}',
     "-W-xxW- [1 22]"),
    ('{{ nospace "a b\\tc" }} {{ nospace "é é" }} {{ initials "hello world" }}', "abc Ã©Ã© hw"),
    ('{{ quote "a\\"b" .n }} {{ squote .s }} {{ cat .s .nul .n }}',
     "\"a\\\"b\" \"42\" 'café' café 42"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "expected"), FROM_GO)
def test_renders_as_go(template: str, expected: str) -> None:
    assert render(template, DATA) == expected


# Go fails these while executing (or, for the first, while parsing: `else with` is Go 1.23's).
@pytest.mark.parametrize(
    ("template", "error", "fragment"),
    [
        ("{{ with .missing }}x{{ else with .s }}{{ . }}{{ end }}", ParseError,
         "unexpected <with> in else"),
        ("{{ eq .n 42.0 }}", ExecError, "incompatible types for comparison"),
        ("{{ .s.x }}", ExecError, "can't evaluate field x"),
        ("{{ .missing.x }}", ExecError, "nil pointer evaluating interface {}.x"),
        ('{{ trunc -1 "abc" }}', ExecError, "slice bounds out of range"),  # v2; v3 gives "c"
        ("{{ upper 3 }}", ExecError, "expected string; found 3"),
        ("{{ .n | indent (add 1 1) }}", ExecError, "expected int; got int64"),
        ('{{ get . "s" }}', ParseError, 'function "get" not defined'),  # Sprig v3 only
        ("{{ now }}", ExecError, "now is not available"),
        ('{{ env "HOME" }}', ExecError, "env is not available"),
        ('{{ repeat 99999999 "ab" }}', ExecError, "longer than"),
        ("{{ set $ \"self\" $ }}", ExecError, "maximum template depth"),  # Go overflows its stack
        ('{{ define "r" }}{{ template "r" }}{{ end }}{{ template "r" }}', ExecError,
         "maximum template depth"),
    ],
)  # fmt: skip
def test_fails_as_go(template: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=None) as caught:
        render(template, DATA)
    assert fragment in str(caught.value)


def test_values_are_never_rendered_again() -> None:
    assert render("{{ .v }}|{{ .v | upper }}", {"v": "{{ .s }}"}) == "{{ .s }}|{{ .S }}"


def test_data_is_not_changed_by_a_template() -> None:
    data = {"m": {"a": 1}}
    assert render('{{ $_ := set $ "x" 1 }}{{ .x }}', data) == "1"
    assert data == {"m": {"a": 1}}


def test_every_function_family_module_is_in_the_table_and_no_name_is_in_two() -> None:
    """funcs.FUNCS merges the funcs_* modules' tables: a family left out, or a name two
    families define (the later one would win silently), is a mistake."""
    tables = [
        importlib.import_module(f"airlock.tasks.gotemplate.{module.name}").FUNCS
        for module in pkgutil.iter_modules(gotemplate.__path__)
        if module.name.startswith("funcs_") and module.name not in ("funcs_common", "funcs_fmt")
    ]
    assert sum(len(table) for table in tables) == len(FUNCS)
    assert {name for table in tables for name in table} == set(FUNCS)
