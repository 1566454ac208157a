"""The student's starter (codebase/kit/starter.py), its check and pack commands, and the ast
surgery they rest on (codebase/kit/splice.py)."""
import ast
import os
import subprocess
import sys
import zipfile

import pytest

import kit_copies
from codebase.kit import ToDo, items, splice, starter, texts
from conftest import ROOT, child_env

SIDE_DOOR = ("m1m2", "vampprior", "iwae", "bench", "report", "readme", "models", "page", "against", "figures")


def in_copy(root):
    """The environment of a process run in a copy: MNIST at the tests' folder, the copy's codebase."""
    return {**child_env(), "PYTHONPATH": str(root)}


def starter_files():
    root = kit_copies.fresh()
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


@pytest.mark.slow
def test_the_starter_holds_the_course_files_and_the_students_kit_only():
    files = starter_files()
    for name in ("run_vae.py", "run_gmvae.py", "run_ssvae.py", "requirements.txt", "README.md", "README.es.md",
                 "ANSWERS.md", "codebase/kit/cases.json", "codebase/kit/check.py", "codebase/kit/submit.py",
                 *items.FILES):
        assert name in files
    assert not [f for f in files if any(f == f"codebase/{m}.py" for m in SIDE_DOOR)]
    assert not [f for f in files if f.startswith("run_") and f not in starter.SCRIPTS]
    teacher = {"grade.py", "sandbox.py", "child.py", "cases.py", "starter.py", "splice.py", "__main__.py", "texts.py"}
    assert not teacher & {os.path.basename(f) for f in files if f.startswith("codebase/kit/")}


def test_the_course_only_rule_drops_the_models_beyond_the_course_from_a_shared_module():
    text = splice.course_only((ROOT / "codebase/models.py").read_text(), starter.beyond_course(), "codebase/models.py")
    tree = ast.parse(text)
    assert "ALL = [VAE, GMVAE, SSVAE]" in text and "m1m2" not in text and "VampPrior" not in text
    assert {n.module for n in tree.body if isinstance(n, ast.ImportFrom)} == {"codebase.gmvae", "codebase.ssvae",
                                                                              "codebase.vae"}
    with pytest.raises(splice.SpliceError):
        splice.course_only("from codebase.m1m2 import M1M2\nx = M1M2()\n", {"codebase.m1m2"})


@pytest.mark.slow
def test_each_item_function_keeps_its_signature_and_docstring_and_its_body_is_one_line_naming_the_item():
    root = kit_copies.fresh()
    for item in items.CODE:
        for part in item.parts:
            ours = splice.find(ast.parse((ROOT / part.file).read_text()), part.function)
            theirs = splice.find(ast.parse(open(os.path.join(root, part.file)).read()), part.function)
            assert ast.dump(ours.args) == ast.dump(theirs.args)
            assert ast.get_docstring(ours) == ast.get_docstring(theirs)
            stub = theirs.body[1]
            assert len(theirs.body) == 2 and isinstance(stub, ast.Raise) and stub.lineno == stub.end_lineno
            assert ast.literal_eval(stub.exc.args[0]) == item.number


@pytest.mark.slow
def test_no_line_of_the_solutions_survives_in_the_starter():
    """Every body line of the reference's item functions and of items.LEFT_OUT that is not also a
    line of the code the starter keeps (the files it copies from the reference, outside those
    functions; e.g. verify.py's call z = utils.sample_gaussian(m, v)) is absent from every file of
    the starter."""
    root = kit_copies.fresh()
    text = "\n".join(open(os.path.join(root, f), errors="replace").read() for f in starter_files())
    solution, context = set(), set()
    stubbed = [p for i in items.CODE for p in i.parts] + list(items.LEFT_OUT)
    for path in starter.closure() + list(starter.SCRIPTS) + [f"codebase/kit/{f}" for f in starter.STUDENT_KIT]:
        source = (ROOT / path).read_text()
        tree, lines = ast.parse(source), source.splitlines()
        inside = set()
        for p in (p for p in stubbed if p.file == path):
            node = splice.find(tree, p.function)
            inside |= set(range(splice.span(node)[0], node.end_lineno + 1))
            solution |= set(splice.body_lines(source, p.function))
        context |= {line.strip() for n, line in enumerate(lines, 1) if n not in inside}
    checked = [line for line in solution if len(line) > 12 and line not in context]
    assert len(checked) > 20 and not [line for line in checked if line in text]


@pytest.mark.slow
def test_no_torch_distributions_in_the_starter():
    """No code of the starter names torch.distributions (the reference's prose may say "distributions")."""
    root = kit_copies.fresh()
    for f in starter_files():
        body = open(os.path.join(root, f), errors="replace").read()
        assert "torch.distributions" not in body, f
        if f.endswith(".py"):
            names = {getattr(n, "attr", None) or getattr(n, "id", None) for n in ast.walk(ast.parse(body))}
            names |= {a.name for n in ast.walk(ast.parse(body)) if isinstance(n, (ast.Import, ast.ImportFrom))
                      for a in n.names}
            assert "distributions" not in names and not any("distributions" in (n or "") for n in names), f


@pytest.mark.slow
def test_the_starter_never_writes_over_a_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "mine.txt").write_text("keep")
    done = subprocess.run([sys.executable, "-m", "codebase.kit", "starter", str(tmp_path / "x")], cwd=ROOT,
                          env=child_env(), capture_output=True, text=True)
    assert done.returncode != 0 and len(done.stderr.splitlines()) == 1 and "not empty" in done.stderr
    assert (tmp_path / "x" / "mine.txt").read_text() == "keep" and os.listdir(tmp_path / "x") == ["mine.txt"]


@pytest.mark.slow
def test_each_run_script_of_a_fresh_starter_ends_with_one_line_naming_its_first_missing_item():
    root = kit_copies.copy("runs")
    first = {"run_vae.py": "1.2", "run_gmvae.py": "1.2", "run_ssvae.py": "3.2"}
    env = in_copy(root)
    started = {s: subprocess.Popen([sys.executable, s, "--iter_max", "2", "--threads", "1", "--run", str(k)], cwd=root,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for k, s in enumerate(first)}
    for script, process in started.items():
        out = process.communicate(timeout=300)[0]
        naming = [line for line in out.splitlines() if "item " in line]
        assert process.returncode == ToDo.exit_code and "Traceback" not in out, out
        assert naming == [out.splitlines()[-1]] and naming[0].startswith(f"error: item {first[script]} "), out


@pytest.mark.slow
def test_run_vae_of_a_starter_with_items_1_1_and_1_2_prints_its_bounds_and_says_why_no_iwae():
    root = kit_copies.copy("vae-only")
    kit_copies.fill(root, {"sample_gaussian", "VAE.negative_elbo_bound", "VAE.kl"})
    done = subprocess.run([sys.executable, "run_vae.py", "--iter_max", "2", "--threads", "1"], cwd=root,
                          env=in_copy(root), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "NELBO: " in done.stdout and "IWAE" not in done.stdout and "Traceback" not in done.stderr
    notice = [line for line in done.stderr.splitlines() if line.startswith("notice: no IWAE bounds: ")]
    assert len(notice) == 1 and "VAE.negative_iwae_bound" in notice[0], done.stderr


@pytest.mark.slow
def test_the_check_reports_each_item_of_a_fresh_starter_as_failed_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "codebase.kit.check"], cwd=kit_copies.fresh(),
                          env=in_copy(kit_copies.fresh()), capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    for item in items.CODE:
        for part in item.parts:
            assert f"{item.number} {part.function}: failed" in done.stdout
    assert "not implemented yet" in done.stdout


@pytest.mark.slow
def test_the_check_passes_on_the_round_trip():
    root = kit_copies.round_trip()
    done = subprocess.run([sys.executable, "-m", "codebase.kit.check"], cwd=root, env=in_copy(root),
                          capture_output=True, text=True)
    assert done.returncode == 0 and "all public cases passed" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_the_pack_command_warns_of_what_is_missing_and_never_replaces_a_zip_silently():
    root = kit_copies.copy("pack")
    kit_copies.fill(root, {"sample_gaussian"})
    run = [sys.executable, "-m", "codebase.kit.submit"]
    done = subprocess.run(run, cwd=root, env=in_copy(root), capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "item 1.2: VAE.kl still raises ToDo" in done.stderr and "item 1.1" not in done.stderr
    assert "item 1.3: no record of run_vae.py" in done.stderr
    with zipfile.ZipFile(os.path.join(root, "submission.zip")) as z:
        assert set(z.namelist()) == {*items.FILES, "ANSWERS.md"}
    again = subprocess.run(run, cwd=root, env=in_copy(root), capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr and len(again.stderr.splitlines()) == 1
    assert subprocess.run([*run, "--force"], cwd=root, env=in_copy(root)).returncode == 0


def test_the_ssvaes_part_asks_for_kl_z_in_closed_form_in_its_stub_and_the_readme():
    said = "KL_z in closed form (utils.kl_normal)"
    assert said in items.todo_message("3.2", "SSVAE.negative_elbo_bound") and said in texts.readme("en")


def test_splice_brings_the_submissions_helpers_and_module_level_code_and_nothing_else():
    reference = 'import math\n\nA = 1\n\n\ndef f(x):\n    """doc"""\n    return x\n\n\nclass C:\n    def g(self):\n' \
                '        return 1\n'
    submission = ('import math\nimport os\n\nA = 2\nB = 3\n\n\ndef f(x):\n    """doc"""\n    return _h(x) + B\n\n\n'
                  'def _h(x):\n    return x\n\n\nclass C:\n    def g(self):\n        return self._k()\n\n'
                  '    def _k(self):\n        return 5\n\n\nraise SystemExit\n')
    out = splice.splice(reference, submission, ["f", "C.g"])
    namespace = {}
    with pytest.raises(SystemExit):  # a module-level statement of the submission comes along
        exec(compile(out, "m", "exec"), namespace)
    out = out.replace("raise SystemExit", "")
    exec(compile(out, "m", "exec"), namespace)
    assert namespace["f"](1) == 4 and namespace["C"]().g() == 5 and "os" in namespace
    with pytest.raises(splice.SpliceError, match="has no function f"):
        splice.splice(reference, "def other():\n    pass\n", ["f"])
    with pytest.raises(splice.SpliceError, match="does not parse"):
        splice.splice(reference, "def f(:\n", ["f"])
