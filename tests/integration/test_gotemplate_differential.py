"""Airlock's template engine against Go itself: tests/go/render renders every case with Go's
text/template and Sprig, exactly as acr-builder does, and Airlock must print the same bytes, or
fail the same way (a parse error where Go cannot parse, an execution error where Go cannot
execute).

Debian's Sprig is v3; acr-builder pins v2.22. Where they differ, the reference follows v2:
tests/go/render deletes the functions v3 added and puts back v2's integer and float
conversions (base-10 strings; v3 reads "0x10" as 16) and v2's trunc (v3 accepts a negative
count). See also :data:`NOT_GENERATED`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from airlock.tasks.gotemplate import TemplateError, render
from airlock.tasks.template import drop_comment_lines

ROOT = Path(__file__).resolve().parents[2]
GO_SOURCE = ROOT / "tests" / "go" / "render"
CORPUS = ROOT.parent / "shared" / "corpus" / "acr-tasks"
FIXTURES = ROOT / "tests" / "unit" / "fixtures"
GOPATH = "/usr/share/gocode"  # Debian's golang-*-dev packages put their sources here

# Not generated: keys and values (Go's map order is random), set (a map set into itself makes
# Go overflow its stack as it prints it), until and untilStep (Go allocates
# whatever count it is given), b32dec (its error text is Go's own), the functions that are
# refused (see funcs.UNAVAILABLE), and Sprig v3's additions, absent from the v2 acr-builder
# uses (tests/go/render removes them, as it puts back v2's integer conversions and trunc).
NOT_GENERATED = ("keys", "values", "set", "until", "untilStep", "b32dec")


@pytest.fixture(scope="session")
def go_render(tmp_path_factory: pytest.TempPathFactory) -> Any:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed (scripts/bootstrap installs golang-go)")
    out = tmp_path_factory.mktemp("gorender")
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": GOPATH,
        "GOCACHE": str(out / "cache"),
        "GOFLAGS": "",
    }
    binary = out / "render"
    build = subprocess.run(
        [go, "build", "-o", str(binary), str(GO_SOURCE / "main.go")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert build.returncode == 0, f"go build failed:\n{build.stderr}"

    def run(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            [str(binary)],
            input=json.dumps(cases, ensure_ascii=False),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        results: list[dict[str, Any]] = json.loads(done.stdout)
        return results

    return run


def airlock_render(template: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"output": render(template, data)}
    except TemplateError as err:
        return {"error": f"template: t:{err.line}: {err.message}", "kind": err.kind}


def outcome(result: dict[str, Any]) -> tuple[str, str]:
    """What must agree: the output, or a parse error's whole message (Go's text, line
    included), or that execution failed."""
    if "output" in result:
        return ("output", result["output"])
    if result["kind"] == "parse":
        return ("parse", result["error"])
    return (result["kind"], "")


def compare(go_render: Any, cases: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Run every case through both; the number that agree, and a report of those that don't."""
    go_results = go_render(cases)
    assert len(go_results) == len(cases)
    agree, report = 0, []
    for case, go in zip(cases, go_results, strict=True):
        ours = airlock_render(case["template"], json.loads(json.dumps(case["data"])))
        if outcome(ours) == outcome(go):
            agree += 1
        else:
            report.append(f"{case['template']!r}\n    go:      {go}\n    airlock: {ours}")
    return agree, report


# --- the corpus ------------------------------------------------------------------------------

RUN = {
    "ID": "ca1",
    "SharedVolume": "vol",
    "Registry": "contoso.azurecr.io",
    "RegistryName": "contoso",
    "Date": "20240102-030405z",
    "OS": "linux",
    "Architecture": "amd64",
    "Commit": "abc",
    "Branch": "main",
    "TaskName": "t",
}
VALUES = {
    "REPOSITORY_NAME": "hello",
    "REGISTRY_FROM_URL": "docker.io/",
    "BUILD_CONTEXT": ".",
    "regDate": "2024",
    "KEYVAULT": "kv",
    "mysecret": "s3cr{{et}}",
    "TEST_ARG": "x y",
}


def corpus_files() -> list[Path]:
    files = sorted(FIXTURES.glob("*.yaml"))
    if CORPUS.is_dir():
        files += sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml"))
    return files


def test_corpus_renders_as_go_renders_it(go_render: Any) -> None:
    cases = []
    for path in corpus_files():
        body, _ = drop_comment_lines(path.read_text())
        for values in ({}, VALUES):
            data = {"Run": RUN, "Values": values, "Secrets": {"test": "pw", "name": "n"}}
            cases.append({"template": body, "data": data})
    agree, report = compare(go_render, cases)
    assert not report, f"{len(report)} of {len(cases)} differ:\n" + "\n".join(report[:10])
    assert agree == len(cases) >= 6


# --- generated templates ---------------------------------------------------------------------

DATA: dict[str, Any] = {
    "s": "hello",
    "u": "café ü",
    "e": "",
    "t": "a{{b}}c",
    "sp": "  pad \t",
    "n": 42,
    "z": 0,
    "neg": -7,
    "f": 2.5,
    "big": 123456789.0,
    "tiny": 0.00001,
    "whole": 3.0,
    "b": True,
    "no": False,
    "nul": None,
    "l": ["x", "y", "z"],
    "nl": [1, 2, 3],
    "mixed": ["a", 1, 2.5, True, None, {"k": "v"}, [1, 2]],
    "empty": [],
    "m": {"a": 1, "b": "two", "c": [1, 2], "d": {"e": "deep"}},
    "em": {},
    "Run": RUN,
}
FIELDS = [
    ".s", ".u", ".e", ".t", ".sp", ".n", ".z", ".neg", ".f", ".big", ".tiny", ".whole", ".b",
    ".no", ".nul", ".l", ".nl", ".mixed", ".empty", ".m", ".em", ".m.a", ".m.b", ".m.c", ".m.d",
    ".m.d.e", ".missing", ".missing.x", ".m.x", ".s.x", ".Run.ID", ".Run.Registry", ".nul.x",
    ".", "$", "$.s", "$.m.a",
]  # fmt: skip
SAFE_FIELDS = [f for f in FIELDS if f.count(".") < 2 or f.startswith((".m.", ".Run", "$."))]
LITERALS = [  # including some Go refuses
    '"str"', '"café"', '"a\\tb"', '"\\u00e9\\x41"', '"}}"', '"{{"', "`raw\\n`", '""', "0", "1",
    "-3", "+4", "3.5", "1e3", "0x1F", "0o17", "017", "0b101", "1_000", "'a'", "'\\n'", "true",
    "false", "nil", "1.0", ".5", "-0.0", "08", "1__0", "0x", "9223372036854775807",
    "9223372036854775808", "1i",
]  # fmt: skip
TYPED = {
    "s": ['"str"', '"café"', '"a\\tb"', '"\\u00e9\\x41"', '"}}"', '"{{"', "`raw\\n`", '""', ".s",
          ".u", ".e", ".t", ".sp", ".Run.ID", "$.s", ".m.b", '"1"', '"0x10"', '" 2 "'],
    "i": ["0", "1", "-3", "+4", "0x1F", "0o17", "017", "0b101", "1_000", "'a'", ".n", ".z",
          ".neg", "(len .l)", "(add 1 2)", "3.0", "1e3"],
    "l": [".l", ".nl", ".mixed", ".empty", "(list 1 2)", ".m.c", "(splitList \",\" \"a,b\")"],
    "m": [".", "$", "(dict)", ".m"],
}  # fmt: skip
# name -> the argument types of each arity to generate: s string, i int, l list, m map, a any
FUNCS: dict[str, tuple[str, ...]] = {
    "len": ("l", "s", "m"), "index": ("li", "ma", "l", "mss"), "print": ("", "a", "aa", "aaa"),
    "println": ("a", "aa"), "printf": ("s", "sa", "saa"), "eq": ("aa", "ii", "ss", "aaa", "iii"),
    "ne": ("ss", "ii", "aa"), "lt": ("ii", "ss", "aa"), "le": ("ii",), "gt": ("ss", "ii"),
    "ge": ("ii", "aa"), "and": ("a", "aa", "aaa"), "or": ("a", "aa", "aaa"), "not": ("a",),
    "html": ("s",), "js": ("s", "a"), "urlquery": ("s",), "upper": ("s",), "lower": ("s",),
    "trim": ("s",), "trimPrefix": ("ss",), "trimSuffix": ("ss",), "trunc": ("is",),
    "substr": ("iis",), "contains": ("ss",), "hasPrefix": ("ss",), "hasSuffix": ("ss",),
    "repeat": ("is",), "replace": ("sss",), "quote": ("a", "aa"), "squote": ("a", "aa"),
    "cat": ("a", "aa", "aaa"), "indent": ("is",), "nindent": ("is",), "nospace": ("s",),
    "splitList": ("ss",), "join": ("sl", "sa"), "toString": ("a",), "b64enc": ("a", "s"),
    "b64dec": ("s",), "sha256sum": ("s",), "default": ("a", "aa", "sa"), "empty": ("a",),
    "coalesce": ("a", "aa", "aaa"), "ternary": ("aaa",), "int": ("a", "s"), "int64": ("a",),
    "float64": ("a", "s"), "atoi": ("s",), "add": ("a", "ii", "aaa"), "add1": ("a",),
    "sub": ("ii", "aa"), "mul": ("ii", "aaa"), "div": ("ii", "aa"), "mod": ("ii",),
    "max": ("a", "ii", "aaa"), "min": ("a", "ii"), "list": ("", "a", "aa", "aaa"),
    "first": ("l",), "last": ("l",), "rest": ("l",), "initial": ("l",), "append": ("la",),
    "prepend": ("la",), "uniq": ("l",), "sortAlpha": ("l", "a"), "get": ("ms",),
    "hasKey": ("ms",), "kindOf": ("a",), "typeOf": ("a",), "kindIs": ("sa",),
    "regexMatch": ("ss",), "split": ("ss",), "hello": ("",), "abbrev": ("is",),
    "untitle": ("s",), "initials": ("s",), "plural": ("ssi",), "adler32sum": ("s",),
    "toDecimal": ("a",), "splitn": ("sis",), "toStrings": ("a", "l"), "biggest": ("aa",),
    "ceil": ("a",), "floor": ("a",), "round": ("ai",),
    "compact": ("l",), "toPrettyJson": ("a", "l"), "toJson": ("a", "l", "m"), "base": ("s",),
    "dir": ("s",), "clean": ("s",), "ext": ("s",), "isAbs": ("s",), "b32enc": ("s",),
    "tuple": ("aa",), "pluck": ("sm",), "pick": ("ms",), "omit": ("ms",),
    "reverse": ("l",), "without": ("la",), "concat": ("ll",), "regexFind": ("ss",),
    "regexFindAll": ("ssi",), "regexSplit": ("ssi",), "regexReplaceAllLiteral": ("sss",),
    "regexReplaceAll": ("sss",), "typeIs": ("sa",), "deepEqual": ("aa",), "title": ("s",),
    "trimAll": ("ss",), "has": ("al",), "unset": ("ms",),
    "slice": ("l", "li", "lii"),
}  # fmt: skip
PRINTF_FORMATS = [
    '"%s"',
    '"%d"',
    '"%v-%v"',
    '"%q"',
    '"%5s|%-4d|"',
    '"%x"',
    '"%t"',
    '"%%"',
    '"%03d"',
]


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.vars: list[str] = []

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def operand(self, depth: int, kind: str = "a") -> str:
        if kind != "a" and not self.chance(0.08):
            if depth < 2 and self.chance(0.1):
                return "(" + self.call(depth + 1, False, result=kind) + ")"
            return self.r.choice(TYPED[kind])
        roll = self.r.random()
        if roll < 0.5:
            fields = FIELDS if self.chance(0.3) else SAFE_FIELDS
            return self.r.choice(fields + self.vars)
        if roll < 0.8 or depth > 1:
            return self.r.choice(LITERALS if self.chance(0.1) else TYPED[self.r.choice("sil")])
        return "(" + self.pipeline(depth + 1) + ")"

    def call(self, depth: int, piped: bool, result: str = "a") -> str:
        names = sorted(FUNCS)
        if result == "s":
            names = ["upper", "lower", "printf", "trim", "toString", "quote", "b64enc", "cat"]
        elif result == "i":
            names = ["len", "add", "atoi", "int", "sub"]
        elif result == "l":
            names = ["list", "splitList", "rest", "append"]
        elif result == "m":
            names = ["dict"]
            return "dict"
        name = self.r.choice(names)
        sig = self.r.choice(FUNCS[name])
        if piped:
            sig = sig[:-1] if sig else sig
        args = [self.operand(depth, k) for k in sig]
        if name == "printf" and not piped and args:
            args[0] = self.r.choice(PRINTF_FORMATS)
        return " ".join([name, *args])

    def pipeline(self, depth: int = 0) -> str:
        first = self.call(depth, False) if self.chance(0.5) else self.operand(depth)
        stages = [first]
        for _ in range(self.r.choice((0, 0, 1, 2))):
            stages.append(self.call(depth, True))
        sep = self.r.choice((" | ", " | ", "|", " |"))
        return sep.join(stages)

    def open(self) -> str:
        if self.chance(0.05):
            return self.r.choice(("{{-", "{{-\t", "{{  "))
        return self.r.choice(("{{", "{{ ", "{{- ", "{{"))

    def close(self) -> str:
        if self.chance(0.05):
            return self.r.choice(("-}}", "\t-}}", "  }}"))
        return self.r.choice(("}}", " }}", " -}}", "}}"))

    def text(self) -> str:
        return self.r.choice(("", " ", "x", "\n", " a \n ", "é", "\t", "<b>", "  \n  "))

    def action(self, depth: int = 0) -> str:
        roll = self.r.random()
        o, c = self.open(), self.close()
        if roll < 0.45 or depth > 2:
            return f"{o}{self.pipeline()}{c}"
        if roll < 0.55:
            name = f"$v{len(self.vars)}"
            decl = f"{o}{name} := {self.pipeline()}{c}"
            self.vars.append(name)
            return decl
        if roll < 0.58:
            return self.r.choice(("{{/* note */}}", "{{- /* note */ -}}", "{{ /* n */ }}"))
        if roll < 0.6 and self.vars:
            return f"{o}{self.r.choice(self.vars)} = {self.pipeline()}{c}"
        if roll < 0.62:
            name = self.r.choice(('"d"', '"e"', "`d`"))
            arg = self.r.choice(("", " .", " .m", " $.l", " 3"))
            if depth == 0 and self.chance(0.6):
                saved, self.vars = self.vars, []
                body = self.body(depth + 1)
                self.vars = saved
                return f"{{{{define {name}}}}}{body}{{{{end}}}}{o}template {name}{arg}{c}"
            saved, self.vars = self.vars, []
            body = self.body(depth + 1)
            self.vars = saved
            return f"{o}block {name}{arg or ' .'}{c}{body}{{{{end}}}}"
        if roll < 0.78:
            kind = self.r.choice(("if", "with"))
            body = self.body(depth)
            rest = ""
            if self.chance(0.5):
                rest = f"{{{{else}}}}{self.body(depth)}"
            elif kind == "if" and self.chance(0.3):
                rest = f"{{{{else if {self.pipeline()}}}}}{self.body(depth)}"
            return f"{o}{kind} {self.pipeline()}{c}{body}{rest}{{{{end}}}}"
        saved = list(self.vars)
        head = self.r.choice(("", "$i, $e := ", "$e := "))
        self.vars += [v for v in ("$i", "$e") if v in head]
        over = self.r.choice(TYPED["l"] + TYPED["m"]) if self.chance(0.7) else self.pipeline()
        loop = self.body(depth, loop=True)
        self.vars = saved
        tail = f"{{{{else}}}}{self.text()}" if self.chance(0.3) else ""
        return f"{o}range {head}{over}{c}{loop}{tail}{{{{end}}}}"

    def body(self, depth: int, loop: bool = False) -> str:
        saved = list(self.vars)
        parts = [self.text()]
        for _ in range(self.r.choice((1, 1, 2))):
            parts.append(self.action(depth + 1))
            if loop and self.chance(0.2):
                parts.append(
                    self.r.choice(("{{break}}", "{{continue}}", "{{ if .b }}{{break}}{{end}}"))
                )
            parts.append(self.text())
        self.vars = saved
        return "".join(parts)

    def template(self) -> str:
        self.vars = []
        parts = [self.text()]
        for _ in range(self.r.choice((1, 2, 3))):
            parts.append(self.action())
            parts.append(self.text())
        text = "".join(parts)
        if self.chance(0.08):  # damage it: Go must refuse it in the same way
            i = self.r.randrange(len(text) + 1)
            junk = self.r.choice(("{{", "}}", "(", ")", "$", "-", "|", '"', "end"))
            text = text[:i] + junk + text[i:]
        return text


GENERATED = 1000


def generated_cases(count: int = GENERATED, seed: int = 20240601) -> list[dict[str, Any]]:
    gen = Gen(seed)
    return [{"template": gen.template(), "data": DATA} for _ in range(count)]


def test_generated_templates_render_as_go_renders_them(go_render: Any) -> None:
    cases = generated_cases()
    started = time.monotonic()
    agree, report = compare(go_render, cases)
    elapsed = time.monotonic() - started
    assert not report, f"{len(report)} of {len(cases)} differ:\n" + "\n".join(report[:15])
    assert agree == GENERATED
    assert elapsed < 60


def test_the_generator_leaves_out_what_it_says() -> None:
    assert not set(NOT_GENERATED) & set(FUNCS)
    left_out = re.compile(r"(?<![\w.$])(?:" + "|".join(NOT_GENERATED) + r")\b")
    assert not [c["template"] for c in generated_cases() if left_out.search(c["template"])]


def test_the_generator_reaches_every_outcome(go_render: Any) -> None:
    kinds = {outcome(r)[0] for r in go_render(generated_cases(200))}
    assert kinds == {"output", "parse", "exec"}


def test_values_json_is_what_go_marshals(go_render: Any) -> None:
    """``{{.ValuesJSON}}`` and ``{{.RunJSON}}`` are ``json.Marshal`` output (then shell-quoted,
    as acr-builder does); Sprig's ``toJson`` is ``json.Marshal`` too, so Go says what it is."""
    from airlock.tasks.render import go_json

    samples: list[Any] = [
        {"b": "x", "a": "<tag> & 'quote' \"dq\"", "c": "café ☕\u2028line"},
        # Flat values, as --set gives them: Go's json.Marshal refuses the
        # map[interface{}]interface{} that yaml.v2 makes of a nested mapping.
        {"z": "1", "n": "3", "empty": "", "dollar": "$HOME `cmd`"},
        {},
    ]
    results = go_render(
        [{"template": "{{ toJson .Values }}", "data": {"Values": s}} for s in samples]
    )
    for sample, result in zip(samples, results, strict=True):
        assert result.get("output") == go_json(sample), (sample, result)
