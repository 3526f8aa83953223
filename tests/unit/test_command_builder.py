"""The command builder quotes (proved with a real sh), and no call site builds shell text by interpolation.

(a) `shell("printf %%s %s", v)` run by `sh -c` prints exactly v, for every hostile value: one word, nothing run.
(b) A static walk over every module under conformance/ and fixtures/: the command/template argument of each call
    to run / run_in / must / container_exec / shell / script / Command / on_rollback / after_restore must not be an
    f-string, a %-format, a .format() call or a + concatenation that involves a non-literal. Allowed: literal strings,
    module-level constants (whose own value is literal), subscripts of constants, calls to the builders, literal text
    repeated by a count (`" %s" * len(args)`), attributes (fields of built commands, checked where they are built),
    and parameters of the wrappers (their callers are checked). A local name is followed to what was assigned to it;
    a parameter of a non-wrapper function to the calls of that function in the same module; a call to a function
    of the same module to what it returns.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.command import Frame, join, script, shell, with_status_line

REPO = Path(__file__).resolve().parents[2]

HOSTILE = [
    "x; touch /tmp/PWNED-unit",
    "$(touch /tmp/PWNED-unit)",
    "`touch /tmp/PWNED-unit`",
    "x'; touch /tmp/PWNED-unit; echo '",
    'x"; touch /tmp/PWNED-unit; echo "',
    "x\ntouch /tmp/PWNED-unit",
    "x\ntouch /tmp/PWNED-unit #",
    "--help",
    "-oProxyCommand=touch /tmp/PWNED-unit",
    "-ew /etc/kolla",
    "x >/tmp/PWNED-unit",
    "x | touch /tmp/PWNED-unit",
    "x && touch /tmp/PWNED-unit",
    "${IFS}touch${IFS}/tmp/PWNED-unit",
    "'",
    '"',
    "\\",
    "'\\''",
    "*",
    "~root",
    "%s %d %%",
    "!",
    " leading and trailing ",
    "\ttab\r\n",
    "",
    "ünïcødé ✓",
    "a" * 5000,
]
IDS = [f"v{i}" for i in range(len(HOSTILE))]
SHELLS = [s for s in ("/bin/sh", "/bin/dash", "/bin/bash") if os.path.exists(s)]


def _sh(command: str, shell_path: str = "/bin/sh", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([shell_path, "-c", command], capture_output=True, timeout=20, cwd=cwd)


@pytest.fixture
def jail(tmp_path):
    """A working directory for the commands: a marker made relative to it would show up here."""
    yield tmp_path
    assert not list(tmp_path.iterdir()), "a command created a file"
    assert not os.path.exists("/tmp/PWNED-unit"), "a hostile value ran"


@pytest.mark.parametrize("shell_path", SHELLS)
@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_shell_quotes_each_value_into_one_word(value, shell_path, jail):
    result = _sh(shell("printf %%s %s", value), shell_path, jail)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == value


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_script_passes_each_value_as_one_positional_parameter(value, jail):
    body = 'printf "%s|" "$#" "$1" "$2"'
    result = _sh(script(body, value, "second"), cwd=jail)
    assert result.stdout.decode() == f"2|{value}|second|"


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_a_value_stays_an_operand_after_double_dash(value, jail):
    """What the fixes rely on for leading '-': `cmd -- %s` never reads the value as an option."""
    result = _sh(shell('set -- %s; printf %%s "$1"', value), cwd=jail)
    assert result.stdout.decode() == value


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_the_wire_form_keeps_each_value(value, jail):
    """What HostConnection sends: the command inside with_status_line, inside Frame.wrap; parsed back from the frame."""
    frame = Frame()
    inner = with_status_line(join(shell("printf %%s %s", value), shell("printf %s", "")), "DONE")
    framed = frame.parse(_sh(frame.wrap(inner, 10), cwd=jail).stdout.decode())
    assert framed is not None and framed.rc == 0
    body, _, status = framed.stdout.rpartition("\nDONE")
    assert body == value and status.strip() == "0"


def test_percent_in_a_value_is_not_a_format_directive(jail):
    assert _sh(shell("printf %%s%%s %s %s", "%s%d", "%%"), cwd=jail).stdout == b"%s%d%%"


# -- (b) the static test --------------------------------------------------------------------------------

# call name -> positional index and keyword names of its command/template argument(s)
CHECKED = {
    "run": (0, ("command", "template", "cmd")),
    "must": (0, ("command",)),
    "run_in": (1, ("template", "command")),
    "container_exec": (2, ("template", "command")),
    "shell": (0, ("template",)),
    "script": (0, ("body",)),
    "Command": (0, ("command", "undo")),
    "on_rollback": (0, ("command",)),
    "after_restore": (0, ("command",)),
}
EXTRA_KEYWORDS = {"Command": ("undo",)}  # checked wherever they appear in the call
BUILDERS = {"shell", "script", "join", "with_status_line", "container_name", "engine_name"}
NOT_COMMANDS = {"subprocess", "asyncio", "pytest"}  # `subprocess.run([...])` runs an argv list, no shell


def _sources() -> list[Path]:
    return sorted(p for d in ("conformance", "fixtures") for p in (REPO / d).rglob("*.py"))


class _Module:
    """One module's AST with what the checker needs to follow names."""

    def __init__(self, path: Path):
        self.path = path
        self.tree = ast.parse(path.read_text(), str(path))
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.constants: dict[str, list[ast.AST]] = {}  # module-level assignments
        self.imported: set[str] = set()
        self.functions: dict[str, list[ast.FunctionDef]] = {}
        for node in self.tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in _names(target):
                        self.constants.setdefault(name, []).append(node.value)
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append(node)

    def enclosing_function(self, node: ast.AST):
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return node
        return None

    def enclosing_scopes(self, node: ast.AST):
        """The function scopes around node, innermost first (closures see their outer function's names)."""
        scopes = []
        function = self.enclosing_function(node)
        while function is not None:
            scopes.append(function)
            function = self.enclosing_function(function)
        return scopes


def _names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _names(elt)]
    if isinstance(target, ast.Starred):
        return _names(target.value)
    return []


def _call_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _receiver(func: ast.AST) -> str | None:
    return func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None


def _params(function) -> list[str]:
    args = function.args
    return (
        [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        + ([args.vararg.arg] if args.vararg else [])
        + ([args.kwarg.arg] if args.kwarg else [])
    )


class Checker:
    def __init__(self, module: _Module):
        self.m = module
        self.violations: list[str] = []

    def where(self, node: ast.AST, call: ast.Call | None = None) -> str:
        path = self.m.path.relative_to(REPO) if self.m.path.is_relative_to(REPO) else self.m.path.name
        via = f" (reaching the call at line {call.lineno})" if call is not None and call.lineno != node.lineno else ""
        return f"{path}:{node.lineno}{via}"

    # An expression made of literal text only: constants, literal-valued module constants, literal text repeated
    # by a count, loop variables over literal iterables, and str methods of such.
    def literal(self, node: ast.AST, seen: frozenset = frozenset(), comp_vars: frozenset = frozenset()) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return all(self.literal(e, seen, comp_vars) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(self.literal(v, seen, comp_vars) for v in node.values if v is not None) and all(
                self.literal(k, seen, comp_vars) for k in node.keys if k is not None
            )
        if isinstance(node, ast.JoinedStr):
            return all(self.literal(v.value, seen, comp_vars) for v in node.values if isinstance(v, ast.FormattedValue))
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mult):  # literal text repeated: "%s" * n, ["%s"] * len(argv)
                return self.literal(node.left, seen, comp_vars) or self.literal(node.right, seen, comp_vars)
            return self.literal(node.left, seen, comp_vars) and self.literal(node.right, seen, comp_vars)
        if isinstance(node, ast.Name):
            if node.id in comp_vars:
                return True
            if node.id in self.m.constants and node.id not in seen:
                return all(self.literal(v, seen | {node.id}, comp_vars) for v in self.m.constants[node.id])
            return node.id in self.m.imported  # another module's constant: checked in that module
        if isinstance(node, ast.Subscript):
            return self.literal(node.value, seen, comp_vars)
        if isinstance(node, ast.Attribute):  # a constant of an imported module (sasl.SASLDB)
            return isinstance(node.value, ast.Name) and node.value.id in self.m.imported
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("join", "strip", "replace", "upper", "lower", "split", "rstrip", "lstrip")
        ):
            return self.literal(node.func.value, seen, comp_vars) and all(
                self.literal(a, seen, comp_vars) for a in node.args
            )
        if isinstance(node, ast.Call) and _call_name(node.func) in ("len", "int", "range", "tuple", "list", "sorted"):
            return True  # a count or a copy of literal items: no text of its own
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            bound = comp_vars
            for gen in node.generators:
                if not self.literal(gen.iter, seen, bound):
                    return False
                bound = bound | set(_names(gen.target))
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            return all(self.literal(p, seen, bound) for p in parts)
        if isinstance(node, ast.IfExp):
            return self.literal(node.body, seen, comp_vars) and self.literal(node.orelse, seen, comp_vars)
        return False

    def check_command(self, node: ast.AST, call: ast.Call, depth: int = 0, seen: frozenset = frozenset()) -> None:
        """Record a violation if `node`, the command/template argument of `call`, is built by interpolation."""
        if depth > 8:
            return
        what = _call_name(call.func)
        if isinstance(node, ast.JoinedStr):
            if not self.literal(node):
                self.violations.append(f"{self.where(node, call)}: f-string as the command of {what}()")
            return
        if isinstance(node, ast.BinOp):
            if self.literal(node):
                return
            kind = {ast.Mod: "%-formatted string", ast.Add: "+ concatenation with a non-literal"}.get(
                type(node.op), f"{type(node.op).__name__} expression"
            )
            self.violations.append(f"{self.where(node, call)}: {kind} as the command of {what}()")
            return
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name == "format" and isinstance(node.func, ast.Attribute):
                if not self.literal(node):
                    self.violations.append(f"{self.where(node, call)}: .format() as the command of {what}()")
                return
            if name in BUILDERS or name in CHECKED:
                return  # built (its own template is checked where it is called)
            if name == "Shell":  # the type itself: whatever it wraps must be built or literal
                for arg in node.args:
                    self.check_command(arg, call, depth + 1, seen)
                return
            # a function of this module: what it returns is the command
            for function in self.m.functions.get(name or "", []):
                if (function.name, id(function)) in seen:
                    continue
                for ret in ast.walk(function):
                    if (
                        isinstance(ret, ast.Return)
                        and ret.value is not None
                        and self.m.enclosing_function(ret) is function
                    ):
                        self.check_command(ret.value, call, depth + 1, seen | {(function.name, id(function))})
            return
        if isinstance(node, ast.IfExp):
            self.check_command(node.body, call, depth + 1, seen)
            self.check_command(node.orelse, call, depth + 1, seen)
            return
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.check_command(value, call, depth + 1, seen)
            return
        if isinstance(node, ast.Subscript):
            self.check_command(node.value, call, depth + 1, seen)
            return
        if isinstance(node, ast.Name):
            self.check_name(node, call, depth, seen)
            return
        # Constants, attributes (fields of built commands), starred: nothing to follow.

    def check_name(self, node: ast.Name, call: ast.Call, depth: int, seen: frozenset) -> None:
        name = node.id
        if ("name", name, id(call)) in seen:
            return
        seen = seen | {("name", name, id(call))}
        for scope in self.m.enclosing_scopes(call):
            if isinstance(scope, ast.Lambda):
                if name in _params(scope):
                    return
                continue
            assigned = self.assignments(scope, name)
            if assigned is not None:
                for value in assigned:
                    self.check_command(value, call, depth + 1, seen)
                return
            if name in _params(scope):
                self.check_parameter(scope, name, call, depth, seen)
                return
        if name in self.m.constants:
            for value in self.m.constants[name]:
                if not self.literal(value):
                    self.check_command(value, call, depth + 1, seen)
        # imported names: another module's constant, checked in that module

    def assignments(self, scope, name: str) -> list[ast.AST] | None:
        """What is assigned to `name` in this function (not in nested ones); None if it is not assigned there."""
        values, found = [], False
        for node in ast.walk(scope):
            if self.m.enclosing_function(node) is not scope and node is not scope:
                continue
            if isinstance(node, ast.Assign) and any(name in _names(t) for t in node.targets):
                found = True
                if any(isinstance(t, (ast.Tuple, ast.List)) for t in node.targets):
                    values.append(
                        node.value if not isinstance(node.value, (ast.Tuple, ast.List)) else _unpacked(node, name)
                    )
                else:
                    values.append(node.value)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and name in _names(node.target):
                found = True
                if node.value is not None:
                    values.append(
                        node.value
                        if isinstance(node, ast.AnnAssign)
                        else ast.BinOp(
                            left=ast.Name(id=name),
                            op=node.op,
                            right=node.value,
                            lineno=node.lineno,
                            col_offset=node.col_offset,
                        )
                    )
            elif isinstance(node, (ast.For, ast.comprehension)) and name in _names(node.target):
                found = True  # an item of a list of built commands (checked where built)
            elif (
                isinstance(node, ast.withitem) and node.optional_vars is not None and name in _names(node.optional_vars)
            ):
                found = True
            elif isinstance(node, ast.NamedExpr) and node.target.id == name:
                found = True
                values.append(node.value)
        return values if found else None

    def check_parameter(self, function, name: str, call: ast.Call, depth: int, seen: frozenset) -> None:
        if function.name in CHECKED or function.name in BUILDERS or function.name.startswith("__"):
            return  # a wrapper: its callers are checked by name
        params = [a.arg for a in function.args.posonlyargs + function.args.args]
        index = params.index(name) if name in params else None
        is_method = bool(params) and params[0] in ("self", "cls")
        for node in ast.walk(self.m.tree):
            if not (isinstance(node, ast.Call) and _call_name(node.func) == function.name):
                continue
            for kw in node.keywords:
                if kw.arg == name:
                    self.check_command(kw.value, call, depth + 1, seen)
            if index is not None:
                position = index - (1 if is_method and isinstance(node.func, ast.Attribute) else 0)
                if 0 <= position < len(node.args) and not isinstance(node.args[position], ast.Starred):
                    self.check_command(node.args[position], call, depth + 1, seen)

    def run(self) -> list[str]:
        for node in ast.walk(self.m.tree):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node.func)
            if name not in CHECKED or _receiver(node.func) in NOT_COMMANDS:
                continue
            index, keywords = CHECKED[name]
            if index < len(node.args) and not isinstance(node.args[index], ast.Starred):
                self.check_command(node.args[index], node)
            for kw in node.keywords:
                if kw.arg in keywords or kw.arg in EXTRA_KEYWORDS.get(name, ()):
                    self.check_command(kw.value, node)
        return self.violations


def _unpacked(assign: ast.Assign, name: str) -> ast.AST:
    for target in assign.targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt, value in zip(target.elts, assign.value.elts):
                if name in _names(elt):
                    return value
    return assign.value


def violations(paths=None) -> list[str]:
    found = []
    for path in paths or _sources():
        found += Checker(_Module(path)).run()
    return sorted(set(found))


def test_no_call_site_builds_a_command_by_interpolation():
    found = violations()
    assert not found, "commands built by interpolation (pass the values as arguments to shell()):\n" + "\n".join(found)


def test_the_static_check_finds_each_kind_of_interpolation(tmp_path):
    """The checker itself: each forbidden shape is found, each allowed one is not."""
    sample = tmp_path / "sample.py"
    sample.write_text("""
from conformance.command import shell, script
TEMPLATE = "cat %s"
JOINED = TEMPLATE + " | wc -l"
COMPUTED = f"cat {TEMPLATE}"
BY_ENGINE = {e: f"{e} ps" for e in ("docker", "podman")}
DYNAMIC = "ls " + __name__

def bad(facts, remote, path, user, engine):
    facts.run(f"cat {path}")                                  # 10
    facts.run("cat %s" % path)                                # 11
    facts.run("cat {}".format(path))                          # 12
    facts.run("cat " + path)                                  # 13
    facts.run_in("nova_libvirt", f"id {user}")                # 14
    remote.must(shell("id " + user), "x")                     # 15
    command = f"rm {path}"
    remote.run(command)                                       # 17
    Command(shell("true"), "x", undo="rm " + path)            # 18
    helper(facts, "stat " + path)                             # 19
    facts.run(DYNAMIC)                                        # 20
    facts.run(make(path))                                     # 21

def helper(facts, template):
    facts.run(template)

def make(path):
    return "cat " + path

def good(facts, remote, path, argv, engine):
    facts.run("cat %s", path)
    facts.run(TEMPLATE, path)
    facts.run(JOINED, path)
    facts.run(COMPUTED)
    facts.run(BY_ENGINE[engine])
    facts.run("a" "b %s", path)
    remote.must(shell("chown -- %s %s", "root", path), "x")
    remote.run(shell(" ".join(["%s"] * len(argv)), *argv))
    remote.run(script("sh -c %s _" + " %s" * len(argv), *argv))
    remote.run(shell("head %s", f"{path}/owner"))
    command = "stat %s" if path else "ls %s"
    facts.run(command, path)
    subprocess.run(["sh", "-c", f"echo {path}"])
""")
    found = violations([sample])
    lines = sorted(int(v.split(":")[1].split()[0]) for v in found)
    assert lines == [7, 10, 11, 12, 13, 14, 15, 16, 18, 19, 27], "\n".join(found)


def _offset(text: str, line: int, col: int) -> int:
    lines = text.splitlines(keepends=True)
    return sum(len(text_line) for text_line in lines[: line - 1]) + len(lines[line - 1].encode()[:col].decode())


def test_every_call_site_is_seen(tmp_path):
    """Each real call with a literal template and arguments, rewritten to interpolate its first argument instead
    (`"cat %s", path` -> `("cat %s" + str(path))`), is reported at its own line: the walk misses no call site."""
    seen = 0
    for path in _sources():
        text = path.read_text()
        module = _Module(path)
        for node in ast.walk(module.tree):
            if (
                not isinstance(node, ast.Call)
                or _call_name(node.func) not in CHECKED
                or _receiver(node.func) in NOT_COMMANDS
            ):
                continue
            index = CHECKED[_call_name(node.func)][0]
            if len(node.args) <= index + 1 or isinstance(node.args[index + 1], ast.Starred):
                continue
            template, first = node.args[index], node.args[index + 1]
            if not (isinstance(template, ast.Constant) and isinstance(template.value, str)):
                continue
            start = _offset(text, template.lineno, template.col_offset)
            end = _offset(text, template.end_lineno, template.end_col_offset)
            arg = ast.get_source_segment(text, first)
            mutated = text[:start] + "(" + text[start:end] + " + str(" + arg.replace("\n", " ") + "))" + text[end:]
            target = tmp_path / path.name
            target.write_text(mutated)
            found = [v for v in violations([target]) if v.startswith(f"{path.name}:{template.lineno}")]
            assert found, f"{path.relative_to(REPO)}:{node.lineno}: an interpolated template was not reported"
            seen += 1
    assert seen >= 25, seen  # the walk reached the probes, fixes, backup and lock scripts (29 when written)


def test_sh_is_there():
    assert shutil.which("sh") and SHELLS
