#!/usr/bin/env python3
"""Renders a Helm chart as `helm template` does, for the part of Go templates and of
Helm's and sprig's functions that helm/emqxd uses. It stands in for `helm template`
where no helm binary exists (none can be downloaded here): tests/deploy/test_helm.py
renders the chart with it, and so can a person:

    python3 tests/deploy/helm_render.py helm/emqxd -f helm/emqxd/ci/default-values.yaml \\
        --name emqxd --namespace mqtt [--set image.tag=0.2.0] [--seed 1] [--notes]

What it supports:
- actions {{ ... }} with {{- and -}} trimming, comments {{/* ... */}}, pipelines
  (`.x | default "y" | quote`), parenthesised pipelines with fields after them, string
  ("..." and `...`), number, true, false and nil literals;
- variables: `$x := ...`, `$x = ...`, `range $k, $v := ...`, and `$` (the data the template
  was given); each if, range and with is a scope, as in Go;
- if / else if / else, range over lists and maps (keys in sorted order; nil ranges over
  nothing) with else, with / else, define, template, include, end;
- Chart.yaml's kubeVersion as ">=MAJOR.MINOR...", checked against --kube-version;
- .Values (the chart's values.yaml, then each -f file, then each --set, merged as Helm
  merges them: maps merge key by key, a null removes a default), .Release (Name,
  Namespace, Service, IsInstall, IsUpgrade, Revision), .Chart (Name, Version, AppVersion,
  Description, Type, APIVersion), .Capabilities.KubeVersion, .Template (Name, BasePath);
- the functions default, quote, squote, toYaml, toJson, indent, nindent, trunc,
  trimSuffix, printf (%s %d %v %q), eq, ne, and, or, not, required, fail, b64enc, b64dec,
  sha256sum, dict, list, hasKey, index, contains, replace, lower, upper, int, add,
  kindIs, lookup, include, randAlphaNum (FUNCTIONS below).

Helm's semantics, kept: a missing map key is nil, which prints as nothing and is false; a
field of nil is an error ("nil pointer evaluating"), as in helm; numbers read from values
files are float64, printed as Go prints them (1000000 is 1e+06, so the chart must pass
large numbers through `int`), and integral ones are integers in toYaml and toJson; `if`
uses Go's truth (false, 0, nil, "" and empty lists and maps are false); `eq` refuses to
compare different kinds (an int with a float64), as Go does; each rendered file is split
on `---`, empty documents dropped, every document checked to be YAML and printed with a
`# Source:` line, in Helm's install order by kind; files starting with `_` and NOTES.txt
are not manifests.

Where it differs: randAlphaNum draws from a generator seeded with --seed, so that golden
renders are stable (helm draws from crypto/rand); lookup finds nothing, as under `helm
template`; toYaml writes PyYAML's block style with sorted keys (the same YAML as Helm's,
quoted differently at times).

Anything else (a function it does not define, else-with, break, a method call, a map or a
list printed as text, a --set list) raises TemplateError naming the template and the
line, so that an unsupported construct cannot render silently wrong.
"""
import argparse
import base64
import copy
import decimal
import hashlib
import json
import os
import random
import re
import string
import sys
from dataclasses import dataclass, field

import yaml


class TemplateError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Parsing: text and actions, then a tree of nodes per template.

@dataclass
class Pipe:
    decl: list            # variable names declared or assigned, [] for none
    assign: bool          # `=` rather than `:=`
    cmds: list            # each a list of operands
    line: int


@dataclass
class Node:
    kind: str             # text, action, if, range, with, template
    line: int
    text: str = ""
    pipe: Pipe = None
    branches: list = field(default_factory=list)   # if: [(pipe, body)]; range/with: one
    else_body: list = None
    name: str = ""        # template and define: the template's name
    body: list = None     # define: its nodes


TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)*')
  | (?P<num>-?(?:0[xX][0-9a-fA-F]+|\d+\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?))
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<bar>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.X)

KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break",
            "continue"}


def split_actions(name, text):
    """[(kind, content, line)]: kind text or action, with Go's trim markers applied."""
    out, pos, line = [], 0, 1
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(("text", text[pos:], line))
            return out
        chunk = text[pos:start]
        i = start + 2
        trim_left = text.startswith("-", i) and i + 1 < len(text) and text[i + 1] in " \t\r\n"
        if trim_left:
            chunk = chunk.rstrip(" \t\r\n")
            i += 2
        out.append(("text", chunk, line))
        line += text.count("\n", pos, start)
        end = find_action_end(name, text, i, line)
        body = text[i:end]
        trim_right = body.endswith("-") and len(body) > 1 and body[-2] in " \t\r\n"
        if trim_right:
            body = body[:-2]
        out.append(("action", body, line))
        line += text.count("\n", start, end + 2)
        pos = end + 2
        if trim_right:
            stripped = text[pos:].lstrip(" \t\r\n")
            line += text.count("\n", pos, len(text) - len(stripped))
            pos = len(text) - len(stripped)


def find_action_end(name, text, i, line):
    """The index of the }} closing the action that starts at i (quotes and comments skipped)."""
    n = len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                break
            i = j + 2
        elif c in "\"`'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if c != "`" and text[j] == "\\" else 1
            i = j + 1
        elif text.startswith("}}", i):
            return i
        else:
            i += 1
    raise TemplateError("%s:%d: unclosed action" % (name, line))


def tokenize(src, where):
    toks, pos = [], 0
    while pos < len(src):
        m = TOKEN_RE.match(src, pos)
        if not m:
            raise TemplateError("%s: cannot read %r" % (where, src[pos:pos + 20]))
        if m.lastgroup == "char":
            raise TemplateError("%s: character constants are not supported" % where)
        if m.lastgroup != "ws":
            toks.append((m.lastgroup, m.group(), m.start(), m.end()))
        pos = m.end()
    return toks


class PipeParser:
    """One action's tokens into a Pipe; functions are checked against FUNCTIONS here, so
    that an unknown one fails even in a branch that is never taken (as Go's parser does)."""

    def __init__(self, toks, where):
        self.toks, self.i, self.where = toks, 0, where

    def fail(self, msg):
        raise TemplateError("%s: %s" % (self.where, msg))

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else (None, None, -1, -1)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def pipe(self, line, allow_decl=True):
        decl, assign = [], False
        kinds = [self.peek(k)[0] for k in range(4)]
        if allow_decl and kinds[:2] in (["var", "declare"], ["var", "assign"]):
            decl = [self.take()[1]]
            assign = self.take()[0] == "assign"
        elif allow_decl and kinds[:3] == ["var", "comma", "var"] and \
                kinds[3] in ("declare", "assign"):
            first, _, second, op = self.take(), self.take(), self.take(), self.take()
            decl, assign = [first[1], second[1]], op[0] == "assign"
        cmds = [self.command()]
        while self.peek()[0] == "bar":
            self.take()
            cmds.append(self.command())
        return Pipe(decl, assign, cmds, line)

    def command(self):
        args = []
        while self.peek()[0] not in (None, "bar", "rparen"):
            args.append(self.operand())
        if not args:
            self.fail("missing value in a pipeline")
        return args

    def operand(self):
        kind, text, start, end = self.take()
        if kind == "dot":
            term = ("dot",)
        elif kind == "field":
            return ("field", ("dot",), text[1:].split("."))
        elif kind == "var":
            term = ("var", text)
        elif kind in ("str", "raw", "num"):
            term = ("lit", literal(kind, text, self.where))
        elif kind == "lparen":
            inner = self.pipe(None, allow_decl=False)
            if self.take()[0] != "rparen":
                self.fail("unclosed (")
            term = ("paren", inner)
            end = self.toks[self.i - 1][3]
        elif kind == "ident":
            if text in ("true", "false"):
                term = ("lit", text == "true")
            elif text == "nil":
                term = ("lit", None)
            elif text in KEYWORDS:
                self.fail("unexpected %s" % text)
            elif text not in FUNCTIONS and text not in LAZY:
                self.fail('function "%s" not defined (not supported by helm_render)' % text)
            else:
                term = ("func", text)
        else:
            self.fail("unexpected %r" % text)
        nxt = self.peek()
        if nxt[0] == "field" and nxt[2] == end and term[0] in ("var", "paren", "dot"):
            self.take()
            return ("field", term, nxt[1][1:].split("."))
        return term


def literal(kind, text, where):
    if kind == "raw":
        return text[1:-1]
    if kind == "str":
        try:
            return json.loads(text)
        except ValueError:
            raise TemplateError("%s: string %s uses an escape not supported" % (where, text))
    if re.fullmatch(r"-?0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    return float(text) if re.search(r"[.eE]", text) else int(text)


def full_pipe(toks, where, line):
    """A pipeline that must use every token of its action."""
    if not toks:
        raise TemplateError("%s: missing pipeline" % where)
    parser = PipeParser(toks, where)
    pipe = parser.pipe(line)
    if parser.i != len(toks):
        raise TemplateError("%s: unexpected %r" % (where, toks[parser.i][1]))
    return pipe


def name_token(toks, where, what):
    if len(toks) < 2 or toks[1][0] not in ("str", "raw"):
        raise TemplateError('%s: %s needs a quoted template name' % (where, what))
    return literal(toks[1][0], toks[1][1], where)


def parse_template(name, text, defines):
    """The nodes of one template file; its {{ define }}s go into `defines`."""
    root = []
    stack = [("root", None, root)]   # (keyword, node, the body being filled)
    for kind, content, line in split_actions(name, text):
        where = "%s:%d" % (name, line)
        body = stack[-1][2]
        if kind == "text":
            if content:
                body.append(Node("text", line, text=content))
            continue
        if content.lstrip().startswith("/*"):
            # As Go: {{/* ... */}} or {{- /* ... */ -}}, nothing else around the comment.
            if not (content.startswith("/*") and content.endswith("*/")):
                raise TemplateError("%s: a comment must fill its action" % where)
            continue
        toks = tokenize(content, where)
        head = toks[0][1] if toks and toks[0][0] == "ident" and toks[0][1] in KEYWORDS else None
        if head is None:
            body.append(Node("action", line, pipe=full_pipe(toks, where, line)))
        elif head in ("if", "range", "with"):
            node = Node(head, line, branches=[(full_pipe(toks[1:], where, line), [])])
            body.append(node)
            stack.append((head, node, node.branches[0][1]))
        elif head == "else":
            stack[-1] = parse_else(stack[-1], toks, where, line)
        elif head == "end":
            if len(stack) == 1 or len(toks) > 1:
                raise TemplateError("%s: unexpected end" % where)
            keyword, node, _ = stack.pop()
            if keyword == "define":
                defines[node.name] = node
        elif head == "define":
            node = Node("define", line, name=name_token(toks, where, "define"), body=[])
            if len(stack) != 1 or len(toks) != 2:
                raise TemplateError("%s: define only at the top level, with a name" % where)
            if node.name in defines:
                raise TemplateError("%s: template %s is defined twice" % (where, node.name))
            stack.append(("define", node, node.body))
        elif head == "template":
            pipe = full_pipe(toks[2:], where, line) if len(toks) > 2 else None
            body.append(Node("template", line, pipe=pipe,
                             name=name_token(toks, where, "template")))
        else:
            raise TemplateError("%s: {{ %s }} is not supported by helm_render" % (where, head))
    if len(stack) != 1:
        raise TemplateError("%s:%d: {{ %s }} has no end" % (name, stack[-1][1].line,
                                                           stack[-1][0]))
    return root


def parse_else(open_block, toks, where, line):
    """{{ else }} or {{ else if ... }}: the open block with the body to fill next."""
    keyword, node, _ = open_block
    if keyword not in ("if", "range", "with") or node.else_body is not None:
        raise TemplateError("%s: unexpected else" % where)
    if len(toks) > 1:
        if toks[1][1] != "if" or keyword != "if":
            raise TemplateError("%s: else %s is not supported" % (where, toks[1][1]))
        node.branches.append((full_pipe(toks[2:], where, line), []))
        return keyword, node, node.branches[-1][1]
    node.else_body = []
    return keyword, node, node.else_body


# ---------------------------------------------------------------------------------------
# Go's formatting and truth.

def truth(v):
    """Go's truth for if, with, and, or, not: false, 0, nil and empty strings, lists and
    maps are false, which for the values here (JSON's kinds) is Python's."""
    return bool(v)


def go_float(f):
    """fmt's %v of a float64: shortest digits, exponent form below 1e-4 or from 1e+06 on."""
    if f != f or f in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(f)]
    if f == 0:
        return "0"
    sign, digits, exp = decimal.Decimal(repr(f)).normalize().as_tuple()
    digits = "".join(map(str, digits))
    x = len(digits) + exp - 1               # the decimal exponent of the first digit
    s = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (s, mant, "-" if x < 0 else "+", abs(x))
    if exp >= 0:
        return s + digits + "0" * exp
    point = len(digits) + exp
    return s + (digits[:point] if point > 0 else "0") + "." + "0" * max(0, -point) + \
        digits[max(0, point):]


def go_str(v):
    """fmt.Sprint of a value as templates print it; nil is "" (helm drops "<no value>")."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, (int, str)):
        return str(v)
    raise TemplateError("a %s printed as text (use toYaml or toJson)" % go_kind(v))


def go_quote(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def go_kind(v):
    for t, k in ((bool, "bool"), (int, "int"), (float, "float64"), (str, "string"),
                 (dict, "map"), (list, "slice")):
        if isinstance(v, t):
            return k
    return "invalid" if v is None else type(v).__name__


def plain(v):
    """What toYaml and toJson see: integral float64s are integers (JSON's numbers)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def to_yaml(v):
    out = yaml.safe_dump(plain(v), default_flow_style=False, sort_keys=True,
                         allow_unicode=True, width=1 << 30)
    if out.endswith("\n...\n"):
        out = out[:-4]
    return out[:-1] if out.endswith("\n") else out


def to_json(v):
    out = json.dumps(plain(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def to_int(v):
    """sprig's toInt64 (cast.ToInt64): what cannot be read is 0."""
    if isinstance(v, (bool, int, float)):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v, 0)
        except ValueError:
            return 0
    return 0


def go_eq(a, *others):
    def kind(v):
        if v is None:
            return "nil"
        k = go_kind(v)
        if k in ("map", "slice"):
            raise TemplateError("eq: a %s cannot be compared" % k)
        return k
    ka = kind(a)
    for b in others:
        kb = kind(b)
        if ka != kb:
            if "nil" in (ka, kb):
                continue
            raise TemplateError("eq: incompatible types for comparison (%s and %s)" % (ka, kb))
        if a == b:
            return True
    return False


def printf(fmt, *args):
    out, it = [], iter(args)
    for m in re.finditer(r"%(.)|[^%]+|%$", fmt):
        verb = m.group(1)
        if verb is None:
            out.append(m.group())
        elif verb == "%":
            out.append("%")
        elif verb not in "sdvq":
            raise TemplateError("printf: %%%s is not supported" % verb)
        else:
            try:
                a = next(it)
            except StopIteration:
                raise TemplateError("printf: missing argument for %%%s" % verb)
            if verb == "d" and not (isinstance(a, int) and not isinstance(a, bool)):
                raise TemplateError("printf: %%d of a %s" % go_kind(a))
            out.append(go_quote(go_str(a)) if verb == "q" else go_str(a))
    if next(it, StopIteration) is not StopIteration:
        raise TemplateError("printf: too many arguments for %r" % fmt)
    return "".join(out)


def required(msg, v=None):
    if v is None or v == "":
        raise TemplateError(msg)
    return v


def fail(msg):
    raise TemplateError(msg)


def index(coll, *keys):
    for k in keys:
        if isinstance(coll, dict):
            coll = coll.get(k)
        elif isinstance(coll, list) and isinstance(k, int):
            coll = coll[k]
        else:
            raise TemplateError("index of a %s by %r" % (go_kind(coll), k))
    return coll


def sprig_dict(*kv):
    if len(kv) % 2:
        raise TemplateError("dict: an odd number of arguments")
    return {go_str(kv[i]): kv[i + 1] for i in range(0, len(kv), 2)}


def typed(fn, *kinds):
    """A function whose Go parameters are typed (string, int): Go refuses a value of
    another type, nil or a float64 from values included, and so does this."""
    names = {str: "string", int: "int"}

    def call(*args):
        for a, k in zip(args, kinds):
            if not isinstance(a, k) or isinstance(a, bool):
                raise TemplateError("wrong type for value; expected %s; got %s"
                                    % (names[k], go_kind(a)))
        return fn(*args)
    return call


def indent(n, s):
    return " " * n + s.replace("\n", "\n" + " " * n)


FUNCTIONS = {
    "default": lambda d, *given: given[0] if given and truth(given[0]) else d,
    "quote": lambda *a: " ".join(go_quote(go_str(x)) for x in a if x is not None),
    "squote": lambda *a: " ".join("'%s'" % go_str(x) for x in a if x is not None),
    "toYaml": to_yaml,
    "toJson": to_json,
    "indent": typed(indent, int, str),
    "nindent": typed(lambda n, s: "\n" + indent(n, s), int, str),
    "trunc": typed(lambda n, s: s[:n] if n >= 0 else s[n:], int, str),
    "trimSuffix": typed(lambda suffix, s: s[:-len(suffix)] if suffix and s.endswith(suffix)
                        else s, str, str),
    "printf": printf,
    "eq": go_eq,
    "ne": lambda a, b: not go_eq(a, b),
    "not": lambda v: not truth(v),
    "required": required,
    "fail": fail,
    "b64enc": typed(lambda s: base64.b64encode(s.encode()).decode(), str),
    "b64dec": typed(lambda s: base64.b64decode(s).decode(), str),
    "sha256sum": typed(lambda s: hashlib.sha256(s.encode()).hexdigest(), str),
    "dict": sprig_dict,
    "list": lambda *a: list(a),
    "hasKey": lambda d, k: isinstance(d, dict) and k in d,
    "index": index,
    "contains": typed(lambda sub, s: sub in s, str, str),
    "replace": typed(lambda old, new, s: s.replace(old, new), str, str, str),
    "lower": typed(str.lower, str),
    "upper": typed(str.upper, str),
    "int": to_int,
    "add": lambda *a: sum(to_int(x) for x in a),
    "kindIs": lambda k, v: go_kind(v) == k,
    "lookup": lambda api, kind, ns, name: {},
    # Bound per render (they need the renderer): see Renderer.call.
    "include": None,
    "randAlphaNum": None,
}
LAZY = {"and", "or"}   # evaluate their arguments one by one, as Go 1.18+ does


# ---------------------------------------------------------------------------------------
# Execution.

class Renderer:
    def __init__(self, chart_dir, values, release_name="release-name", namespace="default",
                 seed=0, kube_version="v1.30.0"):
        self.chart_dir = chart_dir
        meta = yaml.safe_load(open(os.path.join(chart_dir, "Chart.yaml")))
        self.chart_name = meta["name"]
        chart = {"Name": meta["name"], "Version": meta["version"],
                 "AppVersion": meta.get("appVersion"), "Description": meta.get("description"),
                 "Type": meta.get("type", "application"), "APIVersion": meta["apiVersion"]}
        major, minor = kube_version.lstrip("v").split(".")[:2]
        check_kube_version(meta.get("kubeVersion"), int(major), int(minor))
        self.top = {
            "Values": values, "Chart": chart,
            "Release": {"Name": release_name, "Namespace": namespace, "Service": "Helm",
                        "IsInstall": True, "IsUpgrade": False, "Revision": 1},
            "Capabilities": {"KubeVersion": {"Version": kube_version, "Major": major,
                                             "Minor": minor}},
        }
        self.rng = random.Random(seed)
        self.defines, self.files = {}, {}
        tdir = os.path.join(chart_dir, "templates")
        for fname in sorted(os.listdir(tdir)):
            path = os.path.join(tdir, fname)
            if os.path.isfile(path):
                tname = "%s/templates/%s" % (self.chart_name, fname)
                self.files[tname] = parse_template(tname, open(path).read(), self.defines)

    def data_for(self, tname):
        d = dict(self.top)
        d["Template"] = {"Name": tname, "BasePath": "%s/templates" % self.chart_name}
        return d

    def render_file(self, tname):
        out = []
        data = self.data_for(tname)
        self.exec(self.files[tname], data, [{"$": data}], out, tname)
        return "".join(out)

    def manifests(self):
        """[(source, document)] in Helm's install order."""
        docs = []
        for tname in self.files:
            base = tname.rsplit("/", 1)[1]
            if base.startswith("_") or base == "NOTES.txt":
                continue
            for i, doc in enumerate(re.split(r"(?m)^---[ \t]*$", self.render_file(tname))):
                if not doc.strip():
                    continue
                try:
                    obj = yaml.safe_load(doc)
                except yaml.YAMLError as e:
                    raise TemplateError("%s: rendered document %d is not YAML: %s\n%s"
                                        % (tname, i + 1, e, doc))
                if not isinstance(obj, dict) or "kind" not in obj:
                    raise TemplateError("%s: document %d has no kind" % (tname, i + 1))
                docs.append((kind_rank(obj["kind"]), tname, i, doc.strip()))
        return [(t, d) for _, t, _, d in sorted(docs)]

    def render(self):
        return "".join("---\n# Source: %s\n%s\n" % m for m in self.manifests())

    def notes(self):
        return self.render_file("%s/templates/NOTES.txt" % self.chart_name)

    # -- the tree

    def exec(self, nodes, dot, scopes, out, tname):
        for n in nodes:
            try:
                self.exec_node(n, dot, scopes, out, tname)
            except TemplateError as e:
                # The innermost template names the line; the ones that included it follow.
                where = "%s:%d" % (tname, n.line)
                if getattr(e, "located", False):
                    if where not in str(e):
                        e.args = ("%s\n  included from %s" % (e, where),)
                    raise
                err = TemplateError("%s: %s" % (where, e))
                err.located = True
                raise err from None

    def exec_node(self, n, dot, scopes, out, tname):
        if n.kind == "text":
            out.append(n.text)
        elif n.kind == "action":
            v = self.pipe(n.pipe, dot, scopes)
            if not n.pipe.decl:
                out.append(go_str(v))
        elif n.kind == "if":
            inner = scopes + [{}]
            for pipe, body in n.branches:
                if truth(self.pipe(pipe, dot, inner)):
                    return self.exec(body, dot, inner, out, tname)
            if n.else_body is not None:
                self.exec(n.else_body, dot, inner, out, tname)
        elif n.kind == "with":
            inner = scopes + [{}]
            v = self.pipe(n.branches[0][0], dot, inner)
            if truth(v):
                self.exec(n.branches[0][1], v, inner, out, tname)
            elif n.else_body is not None:
                self.exec(n.else_body, dot, inner, out, tname)
        elif n.kind == "range":
            self.exec_range(n, dot, scopes, out, tname)
        elif n.kind == "template":
            arg = self.pipe(n.pipe, dot, scopes) if n.pipe else None
            out.append(self.include(n.name, arg))

    def exec_range(self, n, dot, scopes, out, tname):
        pipe, body = n.branches[0]
        seq = self.pipe(Pipe([], False, pipe.cmds, pipe.line), dot, scopes)
        if isinstance(seq, dict):
            items = [(k, seq[k]) for k in sorted(seq)]
        elif isinstance(seq, list):
            items = list(enumerate(seq))
        elif seq is None:
            items = []
        else:
            raise TemplateError("range can't iterate over a %s" % go_kind(seq))
        for k, v in items:
            inner = scopes + [{}]
            if len(pipe.decl) == 1:
                inner[-1][pipe.decl[0]] = v
            elif len(pipe.decl) == 2:
                inner[-1].update({pipe.decl[0]: k, pipe.decl[1]: v})
            self.exec(body, v, inner, out, tname)
        if not items and n.else_body is not None:
            self.exec(n.else_body, dot, scopes + [{}], out, tname)

    def include(self, name, arg):
        node = self.defines.get(name)
        if node is None:
            raise TemplateError('no template "%s"' % name)
        out = []
        self.exec(node.body, arg, [{"$": arg}], out, name)
        return "".join(out)

    # -- pipelines

    def pipe(self, p, dot, scopes):
        v, first = None, True
        for cmd in p.cmds:
            v = self.command(cmd, dot, scopes, None if first else [v])
            first = False
        if p.decl:
            if p.assign:
                target = next((s for s in reversed(scopes) if p.decl[0] in s), None)
                if target is None:
                    raise TemplateError("undefined variable: %s" % p.decl[0])
                target[p.decl[0]] = v
            else:
                scopes[-1][p.decl[-1]] = v
        return v

    def command(self, args, dot, scopes, piped):
        head = args[0]
        if head[0] == "func":
            return self.call(head[1], args[1:], dot, scopes, piped or [])
        if len(args) > 1 or piped:
            raise TemplateError("can't give an argument to a non-function")
        return self.operand(head, dot, scopes)

    def call(self, name, arg_nodes, dot, scopes, piped):
        if name in LAZY:
            v = None
            thunks = [lambda a=a: self.operand(a, dot, scopes) for a in arg_nodes]
            thunks += [lambda p=p: p for p in piped]
            for t in thunks:
                v = t()
                if truth(v) == (name == "or"):
                    return v
            return v
        args = [self.operand(a, dot, scopes) for a in arg_nodes] + piped
        if name == "include":
            if len(args) != 2:
                raise TemplateError("include takes a name and a value")
            return self.include(args[0], args[1])
        if name == "randAlphaNum":
            alphabet = string.ascii_letters + string.digits
            n = typed(lambda n: n, int)(*args)
            return "".join(self.rng.choice(alphabet) for _ in range(n))
        try:
            return FUNCTIONS[name](*args)
        except TypeError as e:
            raise TemplateError("%s: wrong arguments (%s)" % (name, e))

    def operand(self, node, dot, scopes):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "dot":
            return dot
        if kind == "var":
            for s in reversed(scopes):
                if node[1] in s:
                    return s[node[1]]
            raise TemplateError("undefined variable: %s" % node[1])
        if kind == "func":
            return self.call(node[1], [], dot, scopes, [])
        if kind == "paren":
            return self.pipe(node[1], dot, scopes)
        if kind == "field":
            v = self.operand(node[1], dot, scopes)
            for name in node[2]:
                if v is None:
                    raise TemplateError("nil pointer evaluating interface {}.%s" % name)
                if not isinstance(v, dict):
                    raise TemplateError("can't evaluate field %s in type %s"
                                        % (name, go_kind(v)))
                v = v.get(name)
            return v
        raise TemplateError("unsupported operand %r" % (node,))


INSTALL_ORDER = [
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap",
    "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition",
    "ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role",
    "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler",
    "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService"]


def check_kube_version(constraint, major, minor):
    """Chart.yaml's kubeVersion, of the one form ">=MAJOR.MINOR[.PATCH][-0]" (helm template
    checks it against the version it renders for)."""
    if not constraint:
        return
    m = re.fullmatch(r">=\s*v?(\d+)\.(\d+)(\.\d+)?(-0)?", constraint.strip())
    if not m:
        raise TemplateError("Chart.yaml: kubeVersion %r is not supported" % constraint)
    if (major, minor) < (int(m.group(1)), int(m.group(2))):
        raise TemplateError("chart requires kubeVersion %s, rendering for %d.%d"
                            % (constraint, major, minor))


def kind_rank(kind):
    """Helm's install order; kinds it does not know come last, by name."""
    return (INSTALL_ORDER.index(kind), "") if kind in INSTALL_ORDER else (len(INSTALL_ORDER),
                                                                          kind)


# ---------------------------------------------------------------------------------------
# Values: files, --set, Helm's merge.

def as_helm_numbers(v):
    """Values files are read as JSON numbers, float64, by Helm: ints become floats."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, dict):
        return {k: as_helm_numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [as_helm_numbers(x) for x in v]
    raise TemplateError("values: a %s (%r) is not a JSON value" % (type(v).__name__, v))


def load_values_file(path):
    doc = yaml.safe_load(open(path)) or {}
    if not isinstance(doc, dict):
        raise TemplateError("%s: values must be a map" % path)
    return as_helm_numbers(doc)


def merge(defaults, override):
    """Helm's coalescing: maps merge key by key, a null in the override removes the key."""
    out = copy.deepcopy(defaults)
    for k, v in override.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_set(expr):
    """`a.b.c=value` as --set reads it: true, false, null, integers (int64), else a string."""
    key, sep, raw = expr.partition("=")
    if not sep or not key or re.search(r"[\[\]\\]", key) or raw[:1] in ("{", "[") or "," in raw:
        raise TemplateError("--set %s: only key.path=scalar is supported" % expr)
    value = {"true": True, "false": False, "null": None}.get(raw, raw)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", raw):
        value = int(raw)
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def values_for(chart_dir, files=(), sets=()):
    values = load_values_file(os.path.join(chart_dir, "values.yaml"))
    for f in files:
        values = merge(values, load_values_file(f))
    for s in sets:
        values = merge(values, s if isinstance(s, dict) else parse_set(s))
    return values


def render_chart(chart_dir, files=(), sets=(), name="release-name", namespace="default",
                 seed=0):
    """`helm template NAME CHART -n NAMESPACE -f FILE... --set ...`: the manifests as text."""
    r = Renderer(chart_dir, values_for(chart_dir, files, sets), name, namespace, seed)
    return r.render()


def main(argv=None):
    ap = argparse.ArgumentParser(description="helm template, for the subset helm/emqxd uses")
    ap.add_argument("chart")
    ap.add_argument("-f", "--values", action="append", default=[])
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--name", default="release-name")
    ap.add_argument("-n", "--namespace", default="default")
    ap.add_argument("--seed", type=int, default=0, help="randAlphaNum's seed")
    ap.add_argument("--kube-version", default="v1.30.0", help=".Capabilities.KubeVersion")
    ap.add_argument("--notes", action="store_true", help="print NOTES.txt instead")
    a = ap.parse_args(argv)
    try:
        r = Renderer(a.chart, values_for(a.chart, a.values, a.set), a.name, a.namespace, a.seed,
                     a.kube_version)
        sys.stdout.write(r.notes() if a.notes else r.render())
    except TemplateError as e:
        sys.exit("helm_render: %s" % e)


if __name__ == "__main__":
    main()
