"""The autograder (python -m codebase.kit grade): the reference gets every automatic point, a
fresh starter none of the code points, the round trip what the reference gets; planted bugs cost
exactly their item; a submission that exits, raises at import or loops loses only that function;
one that patches the judge or forges the child's results gains nothing; malformed input of any
kind costs points, never the grading."""
import ast
import functools
import itertools
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import kit_copies
from codebase.kit import child, grade, items, runs, sandbox, splice
from conftest import ROOT, child_env
from mutants import MUTANTS

CODE_POINTS = sum(i.points for i in items.CODE)


def grade_lines(folder, capsys):
    """The grader's lines, run in this process (python -m codebase.kit grade FOLDER)."""
    from codebase.kit.__main__ import main
    capsys.readouterr()
    assert main(["grade", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return out.splitlines()


def run_grade(folder, *flags):
    done = subprocess.run([sys.executable, "-m", "codebase.kit", "grade", str(folder), *flags], cwd=ROOT,
                          env=child_env(), capture_output=True, text=True, timeout=600)
    assert "Traceback" not in done.stdout + done.stderr and done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def scores(lines):
    """{item number: (earned or None for a person's item, points)} from the grader's lines."""
    out = {}
    for line in lines:
        number, earned = line.split()[:2] if line[:1].isdigit() else (None, None)
        if number in items.BY_NUMBER:
            got, points = earned.split("/")
            out[number] = (None if got == "-" else float(got), float(points))
    return out


@functools.cache
def reference():
    """The grader's lines on the reference (a process of its own, with --gradescope), and results.json's path."""
    path = os.path.join(kit_copies.scratch(), "results.json")
    return run_grade(ROOT, "--gradescope", path), path


@pytest.mark.slow
def test_the_reference_gets_every_automatic_point_and_the_total_names_what_a_person_grades():
    lines, _ = reference()
    got = scores(lines)
    assert set(got) == set(items.BY_NUMBER) and len(lines) == len(items.ITEMS) + 3  # "Grading", "Total", "wrote"
    for number, (earned, points) in got.items():
        assert earned == (None if items.BY_NUMBER[number].kind == "person" else points), number
    assert lines[-2] == "Total: 95 automatic points: 95 of 95; 5 points (1.5) graded by a person"
    assert "beta runs found: 0.5, 2, 4, 8" in next(line for line in lines if line.startswith("1.5"))


@pytest.mark.slow
def test_results_json_has_gradescopes_keys_and_its_score_is_the_sum_of_its_tests():
    _, path = reference()
    with open(path) as f:
        doc = json.load(f)
    assert isinstance(doc["score"], (int, float)) and isinstance(doc["tests"], list) and len(doc["tests"]) == 11
    for test in doc["tests"]:
        assert set(test) <= {"score", "max_score", "name", "number", "output", "tags", "visibility", "status"}
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert 0 <= test["score"] <= test["max_score"] or test["max_score"] == 0 == test["score"]
    assert doc["score"] == sum(t["score"] for t in doc["tests"]) == 95
    assert sum(t["max_score"] for t in doc["tests"]) == 95


@pytest.mark.slow
def test_a_fresh_starter_gets_none_of_the_code_points_with_a_line_per_item(capsys):
    lines = grade_lines(kit_copies.fresh(), capsys)
    got = scores(lines)
    assert set(got) == set(items.BY_NUMBER)
    assert sum(got[i.number][0] for i in items.CODE) == 0 and sum(got[i.number][1] for i in items.CODE) == 61
    assert all("not implemented yet" in line for line in lines if line.split()[0] in [i.number for i in items.CODE])
    assert lines[-1].startswith("Total: 95 automatic points: 0 of 95")


@pytest.mark.slow
def test_the_round_trip_packed_by_the_student_grades_like_the_reference(capsys):
    root = kit_copies.round_trip()
    packed = subprocess.run([sys.executable, "-m", "codebase.kit.submit", "--out", "s.zip"], cwd=root,
                            env={**child_env(), "PYTHONPATH": root}, capture_output=True, text=True)
    assert packed.returncode == 0, packed.stderr
    assert [w for w in packed.stderr.splitlines() if w.startswith("warning")] == []
    got, want = scores(grade_lines(os.path.join(root, "s.zip"), capsys)), scores(reference()[0])
    assert got == want


def grade_code(submission, timeout=sandbox.TIMEOUT):
    """{item number: (score, line)} of the code items, graded side by side as the grader does."""
    return {r.item.number: (r.score, r.line) for r in grade.grade(submission, timeout=timeout)
            if r.item.kind == "code"}


def submission_of(tmp_path, plant=()):
    """The reference's item files in tmp_path, with plant = [(file, line as it is, line planted)]."""
    for path in items.FILES:
        os.makedirs(tmp_path / os.path.dirname(path), exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    for path, before, after in plant:
        text = (tmp_path / path).read_text()
        assert text.count(before) == 1, (path, before)
        (tmp_path / path).write_text(text.replace(before, after))
    return tmp_path


def grade_item(number, submission, timeout=sandbox.TIMEOUT):
    """One code item's Result, its functions graded one after the other."""
    item = items.BY_NUMBER[number]
    return grade.code(item, {p.function: grade.part(item, p, submission, timeout) for p in item.parts})


@pytest.mark.slow
def test_exiting_raising_at_import_or_looping_costs_only_that_item(tmp_path):
    sub = submission_of(tmp_path, [
        ("codebase/utils.py", "return m + v.sqrt() * torch.randn_like(m)", "import sys; sys.exit(3)"),
        ("codebase/vae.py", "BOUNDS = (", 'raise RuntimeError("not today")\nBOUNDS = ('),
        ("codebase/ssvae.py", "log_q_y = F.log_softmax(self.cls(x), dim=-1)  # (batch, y_dim)", "while True: pass")])
    got = {n: grade_item(n, sub, timeout=5 if n == "3.2" else sandbox.TIMEOUT) for n in ("1.1", "1.2", "3.2")}
    assert got["1.1"].score == 0 and "called sys.exit(3)" in got["1.1"].line
    assert got["1.2"].score == 0 and "importing its module raised RuntimeError: not today" in got["1.2"].line
    assert got["3.2"].score == 0
    assert got["3.2"].line == "SSVAE.negative_elbo_bound: timed out after 5 s (an endless loop?)"
    assert all("\n" not in r.line for r in got.values())


@pytest.mark.slow
def test_a_missing_file_or_function_and_os_exit_cost_only_their_item(tmp_path):
    sub = submission_of(tmp_path, [("codebase/gmvae.py", "def kl(self, m, v, z):", "def kl_renamed(self, m, v, z):"),
                                   ("codebase/utils.py", "return m + v.sqrt() * torch.randn_like(m)",
                                    "import os; os._exit(0)")])
    os.remove(sub / "codebase/ssvae.py")
    got = grade_code(sub)
    assert got["3.2"] == (0, "SSVAE.negative_elbo_bound: codebase/ssvae.py is missing from the submission")
    assert got["2.1"] == (16, "log_normal: 4/4 cases; log_normal_mixture: 4/4 cases; GMVAE.kl: codebase/gmvae.py "
                              "has no function GMVAE.kl")
    assert got["1.1"][0] == 0 and "ended before answering every case" in got["1.1"][1]
    assert got["1.2"][0] == 9


LIMITED = """
import os as _os, resource as _resource
assert _resource.getrlimit(_resource.RLIMIT_AS)[1] <= 8 << 30, "no memory limit"
assert set(_os.environ) <= {"PATH", "PYTHONPATH", "HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                            "PYTHONDONTWRITEBYTECODE",
                            "LC_CTYPE", "TORCHINDUCTOR_CACHE_DIR"}, sorted(_os.environ)  # set by Python and torch
assert _os.environ["HOME"] == _os.getcwd()
"""


@pytest.mark.slow
def test_a_crash_in_one_function_costs_only_that_function_and_leaves_no_process_behind(tmp_path):
    """os._exit in log_normal_mixture: log_normal and GMVAE.kl keep their points (one child per
    function); each child runs with a minimal environment and a memory limit (GMVAE.kl's module
    asserts both), and what a child started is killed with it."""
    sub = submission_of(tmp_path, [
        ("codebase/utils.py", 'wide = torch.float32 if z.device.type == "mps" else torch.float64',
         "import os; os._exit(0)"),
        ("codebase/utils.py", "LOG_2PI = math.log(2 * math.pi)",
         'LOG_2PI = math.log(2 * math.pi)\nimport subprocess\nsubprocess.Popen(["sleep", "4242.5"])'),
        ("codebase/gmvae.py", "\nclass GMVAE(VAE):", LIMITED + "\n\nclass GMVAE(VAE):")])
    got = grade_item("2.1", sub)
    assert got.score == 14 and "log_normal: 4/4 cases;" in got.line and "GMVAE.kl: 3/3 cases" in got.line, got.line
    assert "log_normal_mixture: the code ended the grading process" in got.line or \
        "log_normal_mixture: the grading process ended before" in got.line, got.line
    left = subprocess.run(["pgrep", "-f", "sleep 4242.5"], capture_output=True, text=True)
    assert left.stdout == "", "a child's process outlived it"


PATCH_THE_JUDGE = """
import codebase.kit.verify as _verify
_verify.run = _verify.judge = _verify.close = lambda *args, **kwargs: None
try:
    from codebase.kit import cases as _cases
    _cases.expected = lambda *args, **kwargs: {}
except ImportError:
    pass
"""
FORGE_THE_RESULTS = """
import json as _json, os as _os, sys as _sys
try:  # the old child's results: every case passed
    from codebase.kit import cases as _cases
    _spec = _json.load(open(_sys.argv[1]))
    _json.dump({"parts": [{"function": p["function"], "cases": [{"name": n, "ok": True, "why": ""} for n in
                                                                  _cases.names(_spec["item"])[p["function"]]]}
                          for p in _spec["parts"]]}, open(_sys.argv[2], "w"))
except Exception:  # the new child's: outputs of its own
    import torch as _torch
    _torch.save({"import": None, "cases": [{"outputs": {"ok": True}} for _ in _json.load(open(_sys.argv[1]))["cases"]]},
                _sys.argv[2])
_os._exit(0)
"""


@pytest.mark.slow
@pytest.mark.parametrize("name, forge", [("patches the judge", PATCH_THE_JUDGE),
                                         ("forges the results and exits 0", FORGE_THE_RESULTS)],
                         ids=["patches the judge", "forges the results and exits 0"])
def test_a_submission_that_patches_the_judge_or_forges_its_results_gets_no_point_for_it(tmp_path, name, forge):
    sub = submission_of(tmp_path, [
        ("codebase/utils.py", "return m + v.sqrt() * torch.randn_like(m)", 'return torch.full_like(m, float("nan"))'),
        ("codebase/utils.py", "LOG_2PI = math.log(2 * math.pi)", "LOG_2PI = math.log(2 * math.pi)\n" + forge)])
    got = grade_item("1.1", sub)
    assert got.score == 0, got.line


def item_of(path, line_text):
    """The code item whose function holds the (first line of the) reference's line, or None."""
    source = (ROOT / path).read_text()
    if path not in items.FILES or source.count(line_text) != 1:
        return None
    line = source[:source.index(line_text)].count("\n") + 1
    tree = ast.parse(source)
    for item in items.CODE:
        for part in item.parts:
            if part.file == path:
                node = splice.find(tree, part.function)
                if splice.span(node)[0] <= line <= node.end_lineno:
                    return item.number
    return None


OURS = [  # (name, file, the line as it is, the line planted)
    ("the VAE's bound summed over the batch", "codebase/vae.py",
     "return _mean(kl + rec, kl, rec) if reduce else (kl + rec, kl, rec)",
     "return tuple(t.sum() for t in (kl + rec, kl, rec)) if reduce else (kl + rec, kl, rec)"),
    ("the VAE's bound per example", "codebase/vae.py",
     "return _mean(kl + rec, kl, rec) if reduce else (kl + rec, kl, rec)", "return kl + rec, kl, rec"),
    ("KL_y against the wrong prior", "codebase/ssvae.py",
     "kl_y = utils.kl_cat(q_y, log_q_y, -math.log(self.y_dim))", "kl_y = utils.kl_cat(q_y, log_q_y, 0.0)"),
    ("log_normal without the log-determinant", "codebase/utils.py",
     "return -0.5 * (((x - m).pow(2) * v.reciprocal()).sum(-1) + log_det + d * LOG_2PI)",
     "return -0.5 * (((x - m).pow(2) * v.reciprocal()).sum(-1) + d * LOG_2PI)"),
    ("the mixture through exp and log", "codebase/utils.py",
     "return log_mean_exp(-0.5 * (quad.to(z.dtype) + z.size(-1) * LOG_2PI), dim=-1)",
     "return (-0.5 * (quad.to(z.dtype) + z.size(-1) * LOG_2PI)).exp().mean(-1).log()"),
    ("sample_gaussian with v, not sqrt(v)", "codebase/utils.py",
     "return m + v.sqrt() * torch.randn_like(m)", "return m + v * torch.randn_like(m)"),
    ("sample_gaussian's eps shared along the last dimension", "codebase/utils.py",
     "return m + v.sqrt() * torch.randn_like(m)", "return m + v.sqrt() * torch.randn_like(m[..., :1])"),
    ("the VAE's rec from dec(m)", "codebase/vae.py",
     "rec = -utils.log_bernoulli_with_logits(x, self.dec(z))",
     "rec = -utils.log_bernoulli_with_logits(x, self.dec(m))"),
    ("the VAE's z = m", "codebase/vae.py",
     "z = utils.sample_gaussian(m, v)\n        kl = self.kl(m, v, z)", "z = m\n        kl = self.kl(m, v, z)"),
    ("the SSVAE's rec from dec(m)", "codebase/ssvae.py",
     "rec = -self.log_likelihood(x, self.dec(z, y))", "rec = -self.log_likelihood(x, self.dec(m, y))"),
    ("the SSVAE's z = m", "codebase/ssvae.py", "z = utils.sample_gaussian(m, v)", "z = m"),
]
PLANTED = [m[:4] for m in MUTANTS if item_of(m[1], m[2])] + OURS


def rounds(planted):
    """The planted bugs as submissions to grade, fewer than one each: a bug of 1.1, whose function
    the bounds of 1.2 and 3.2 call, alone (so those items are seen to keep their points); the others
    at most one per item a round (the k-th bug of every item in round k). [[(name, path, before,
    after), ...], ...]"""
    by_item = {}
    for bug in planted:
        by_item.setdefault(item_of(bug[1], bug[2]), []).append(bug)
    alone = [[bug] for bug in by_item.pop("1.1", [])]
    return alone + [[bug for bug in round_ if bug] for round_ in itertools.zip_longest(*by_item.values())]


def test_the_mutants_of_tests_mutants_py_that_touch_an_item_are_found_and_planted():
    assert len(PLANTED) - len(OURS) >= 4 and all(item_of(f, before) for _, f, before, _ in PLANTED)
    given = "return 0.5 * (pv.log() - qv.log() + (qv + (qm - pm).pow(2)) / pv - 1).sum(-1)"
    assert item_of("codebase/utils.py", given) is None  # kl_normal is given, not an item


@pytest.mark.slow
@pytest.mark.parametrize("planted", rounds(PLANTED), ids=["; ".join(bug[0] for bug in r) for r in rounds(PLANTED)])
def test_planted_bugs_cost_points_in_their_items_only(tmp_path, planted):
    got = grade_code(submission_of(tmp_path, [bug[1:] for bug in planted]))
    hit = {item_of(path, before) for _, path, before, _ in planted}
    for item in items.CODE:
        assert (got[item.number][0] < item.points) == (item.number in hit), (item.number, got[item.number])


def test_the_rounds_plant_every_bug_once_and_at_most_one_per_item():
    planted = rounds(PLANTED)
    assert sorted(bug[0] for r in planted for bug in r) == sorted(bug[0] for bug in PLANTED)
    for r in planted:
        hit = [item_of(path, before) for _, path, before, _ in r]
        assert len(hit) == len(set(hit)) and ("1.1" not in hit or len(r) == 1)


def test_a_file_python_cannot_parse_costs_its_functions_with_one_line(tmp_path):
    (tmp_path / "codebase").mkdir()
    (tmp_path / "codebase/utils.py").write_text("x = " + "1 + " * 100000 + "1\n")
    item = items.BY_NUMBER["1.1"]
    score, line = grade.part(item, item.parts[0], tmp_path)
    assert score == 0 and line == "codebase/utils.py does not parse (RecursionError: too deep or not text?)"


def test_malformed_records_are_skipped_field_by_field_and_cost_only_their_items(tmp_path):
    good = {"model": "VAE", "config": {"z_dim": 10}, "iterations": 5, "metrics": {"NELBO": 1.0}, "seed": 0}
    bad = {"precision": 5, "compile": "yes", "iterations": True, "config": [], "metrics": None, "seed": "0"}
    for k, (field, value) in enumerate([(None, None), *bad.items()]):
        os.makedirs(tmp_path / "logs" / f"r{k}")
        (tmp_path / "logs" / f"r{k}" / "metrics.json").write_text(json.dumps({**good, "seed": k, field: value}
                                                                             if field else good))
    records, skipped = runs.load(tmp_path)
    assert len(records) == 1 and len(skipped) == len(bad)
    for field, why in zip(bad, skipped, strict=True):
        assert f'its "{field}" is' in why, why
    result = grade.run(items.BY_NUMBER["1.3"], records, skipped)
    assert result.score == 0 and "no record of run_vae.py's course run" in result.line


def test_an_unexpected_failure_costs_one_item_or_function_with_one_line_and_grading_goes_on(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("boom\nTotal: 95 of 95")
    monkeypatch.setattr(grade.cases, "graded", fail)
    monkeypatch.setattr(grade.runs, "select", fail)
    results = grade.grade(tmp_path)
    lines = grade.lines(results)
    assert len(lines) == len(items.ITEMS) + 1 and lines[-1].startswith("Total: 95 automatic points: 0 of 95")
    assert all("the grader failed here (RuntimeError: boom Total: 95 of 95)" in r.line for r in results
               if r.item.kind != "person")


def test_the_parent_judges_raw_outputs_and_a_failed_hidden_case_shows_no_value(monkeypatch):
    """The outputs a child sends back are judged here: a forged claim passes nothing, and a
    hidden case that fails is named by its number only."""
    from codebase import utils
    from codebase.kit import verify
    item = items.BY_NUMBER["2.1"]
    graded = grade.cases.graded("log_normal")
    right = [{"out": verify.outputs(c, {"utils": utils})["out"]} for c, _ in graded]
    answers = [right[0], right[1], {"out": right[2]["out"] + 1}, {"ok": True}]
    assert [public for _, public in graded] == [True, True, False, False]
    monkeypatch.setattr(grade.sandbox, "run", lambda p, sub, inputs, timeout: (answers, None))
    assert grade.part(item, item.parts[0], "/nowhere") == (4, "2/4 cases, hidden case 1 failed")
    answers[0] = {"out": "float"}
    assert grade.part(item, item.parts[0], "/nowhere")[1] == \
        "1/4 cases, public case '(4, 6)': the result: returned float, not a tensor"


def test_the_childs_copy_holds_no_case_and_no_grader_and_its_environment_is_minimal(tmp_path):
    item = items.BY_NUMBER["1.1"]
    root, why = sandbox.prepare(item.parts[0], ROOT, str(tmp_path))
    kit = sorted(os.listdir(os.path.join(root, "codebase", "kit")))
    assert why is None and kit == sorted(sandbox.CHILD_KIT)
    assert set(sandbox.child_env(root, "/h")) == {"PATH", "PYTHONPATH", "HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                  "PYTHONDONTWRITEBYTECODE"}


def test_what_a_child_writes_is_capped_and_every_reason_is_one_short_line(tmp_path):
    big = tmp_path / "out.pt"
    with open(big, "wb") as f:
        f.truncate(child.OUTPUT + 1)
    with pytest.raises(ValueError, match="too large"):
        sandbox._load(str(big), 3)
    said = sandbox.one_line("raised X\nTotal: 95 automatic points: 95 of 95\r" + "x" * 1000)
    assert "\n" not in said and "\r" not in said and len(said) <= sandbox.LINE


def test_the_autograder_zip_holds_gradescopes_scripts_and_the_reference_and_is_never_replaced_silently(tmp_path):
    from codebase.kit.__main__ import main
    path = str(tmp_path / "autograder.zip")
    assert main(["autograder", path]) == 0
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "requirements.txt", "codebase/kit/grade.py", "codebase/vae.py"} <= names
        assert z.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert "--gradescope /autograder/results/results.json" in z.read("run_autograder").decode()
    assert main(["autograder", path]) == 2


def test_grading_a_folder_that_is_not_there_says_what_to_pass_in_one_line(capsys):
    from codebase.kit.__main__ import main
    assert main(["grade", "/nonexistent/copy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: /nonexistent/copy does not exist; pass") and len(err.splitlines()) == 1
