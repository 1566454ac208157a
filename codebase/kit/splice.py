"""Source surgery with `ast` line spans, never regular expressions: the starter's stubs, the
grader's splicing of a submission's functions into the reference, a course-only module.

Functions are named by their qualified name in the module: "sample_gaussian", "VAE.kl".
Line numbers are 1-based, spans inclusive, as ast gives them.
"""
import ast
import textwrap


class SpliceError(Exception):
    """A source that cannot be cut as asked (it does not parse, or lacks a function): one line."""


def parse(source, path):
    """The module's ast, or SpliceError (one line) for any source Python cannot parse: a syntax
    error, null bytes, an expression too deep for the parser (RecursionError, MemoryError)."""
    try:
        return ast.parse(source)
    except SyntaxError as e:
        raise SpliceError(f"{path} does not parse: {e.msg}" + (f" at line {e.lineno}" if e.lineno else "")) from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise SpliceError(f"{path} does not parse ({type(e).__name__}: too deep or not text?)") from None


def find(tree, qualname, path="the module"):
    """The FunctionDef of `qualname` ("f" or "Class.f") at the module's top level or in a top-level class."""
    scope = tree.body
    *classes, name = qualname.split(".")
    for cls in classes:
        scope = next((n.body for n in scope if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if scope is None:
            raise SpliceError(f"{path} has no class {cls} (needed for {qualname})")
    node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name), None)
    if node is None:
        raise SpliceError(f"{path} has no function {qualname}")
    return node


def span(node):
    """(first, last): the lines of a statement, its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]), node.end_lineno


def _docstring_end(node):
    """The last line of the function's docstring, or of its header when it has none."""
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.end_lineno
    return first.lineno - 1


def body_lines(source, qualname):
    """The lines of a function's body after its docstring, stripped: what a stub removes."""
    node = find(ast.parse(source), qualname)
    lines = source.splitlines()
    return [line.strip() for line in lines[_docstring_end(node):node.end_lineno]]


def _edit(source, edits):
    """Apply edits [(first, last, text)]: lines first..last replaced by text (last = first - 1:
    text inserted before line first). Edits must not overlap."""
    lines = source.splitlines(keepends=True)
    for first, last, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[first - 1:last] = [text if text.endswith("\n") or not text else text + "\n"]
    return "".join(lines)


def _after_imports(tree):
    """The line after which a new import goes: the last top-level import's end, or the module docstring's."""
    ends = [n.end_lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    if ends:
        return max(ends)
    first = tree.body[0] if tree.body else None
    docstring = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant)
    return first.end_lineno if docstring else 0


def stub(source, stubs, import_line, path="the module"):
    """Each function's body after its docstring becomes one line; import_line is added after the imports.

    stubs: [(qualname, statement)]: the statement (e.g. 'raise ToDo("1.1", "sample_gaussian")') at
    the body's indentation. Signatures, decorators and docstrings are kept.
    """
    tree = parse(source, path)
    edits = []
    for qualname, statement in stubs:
        node = find(tree, qualname, path)
        indent = " " * node.body[0].col_offset
        edits.append((_docstring_end(node) + 1, node.end_lineno, indent + statement))
    at = _after_imports(tree)
    edits.append((at + 1, at, import_line))
    return _edit(source, edits)


def _dumps(nodes):
    return {ast.dump(n) for n in nodes}


def _defined(node):
    return node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else None


def splice(reference, submission, qualnames, path="the module"):
    """The reference's source with the submission's versions of `qualnames` in place of its own,
    and what the submission adds that they may need: top-level statements the reference lacks
    (imports, helper functions, constants; each after the statement it follows in the submission)
    and methods its classes add. Everything else stays the reference's.

    Raises SpliceError when the submission does not parse or lacks one of the functions.
    """
    ref, sub = parse(reference, "the reference's " + path), parse(submission, path)
    ref_lines, sub_lines = reference.splitlines(keepends=True), submission.splitlines(keepends=True)

    def text(node, indent):
        first, last = span(node)
        return textwrap.indent(textwrap.dedent("".join(sub_lines[first - 1:last])), indent)

    edits = []
    for qualname in qualnames:
        old, new = find(ref, qualname, "the reference's " + path), find(sub, qualname, path)
        first, last = span(old)
        edits.append((first, last, text(new, " " * old.col_offset)))
    ref_names = {_defined(n): n for n in ref.body if _defined(n)}
    ref_dumps, anchor = _dumps(ref.body), _after_imports(ref)
    for node in sub.body:
        name = _defined(node)
        if name in ref_names:
            anchor = ref_names[name].end_lineno
            if isinstance(node, ast.ClassDef) and isinstance(ref_names[name], ast.ClassDef):
                have = {_defined(n) for n in ref_names[name].body}
                extra = [n for n in node.body if _defined(n) and _defined(n) not in have]
                indent = " " * ref_names[name].body[0].col_offset
                edits += [(anchor + 1, anchor, "\n" + text(n, indent)) for n in extra]
        elif ast.dump(node) in ref_dumps:
            anchor = next(n.end_lineno for n in ref.body if ast.dump(n) == ast.dump(node))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            at = _after_imports(ref)
            edits.append((at + 1, at, text(node, "")))
        else:
            edits.append((anchor + 1, anchor, "\n" + text(node, "")))
    return _edit(reference, _merge(edits, ref_lines))


def _merge(edits, ref_lines):
    """Insertions at the same place joined in order, so _edit sees no overlap."""
    merged = {}
    for first, last, text in edits:
        key = (first, last)
        merged[key] = merged.get(key, "") + (text if text.endswith("\n") else text + "\n")
    return [(f, last, t) for (f, last), t in merged.items()]


def course_only(source, beyond, path="the module"):
    """The module without the models beyond the course: its `from codebase.<m> import A` and
    `from codebase import <m>` of each module m in `beyond` dropped, and the names they bound
    dropped from top-level list and tuple literals (e.g. models.ALL). Raises SpliceError when such
    a name is used in any other way (then the starter needs a hand-made rule for that module).
    """
    tree = parse(source, path)
    edits, names = [], set()
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.module == "codebase":
            dropped = [a for a in node.names if f"codebase.{a.name}" in beyond]
        else:
            dropped = list(node.names) if node.module in beyond else []
        if dropped:
            names |= {a.asname or a.name for a in dropped}
            kept = [a for a in node.names if a not in dropped]
            new = ast.unparse(ast.ImportFrom(node.module, kept, node.level)) if kept else ""
            edits.append((node.lineno, node.end_lineno, new))
    if not names:
        return source
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
            elts = [e for e in node.value.elts if not (isinstance(e, ast.Name) and e.id in names)]
            if len(elts) != len(node.value.elts):
                node.value.elts = elts
                edits.append((node.lineno, node.end_lineno, ast.unparse(node)))
    edited = ast.parse(_edit(source, edits))
    left = sorted({n.id for n in ast.walk(edited) if isinstance(n, ast.Name) and n.id in names})
    if left:
        raise SpliceError(f"{path} uses {', '.join(left)} (beyond the course) outside a list; "
                          "give the starter a rule for it in codebase/kit/starter.py")
    return _edit(source, edits)
