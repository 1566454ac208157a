"""The pages for people: every command written in a code block or a table of the READMEs and docs/
runs against a file of the repository, with flags its parser takes."""
import argparse
import importlib
import re
import shlex

import pytest

from codebase import records
from conftest import ROOT

PAGES = sorted([ROOT / "README.md", ROOT / "README.es.md", *(ROOT / "docs").glob("*.md")])


def commands(text):
    """The commands of a Markdown page: the lines of its code blocks that start with python, bash
    or pip (less a trailing # comment), and the `python ...` spans of its tables' rows."""
    found = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S):
        found += [line.split(" #")[0].strip() for line in block.splitlines()
                  if re.match(r"(python3?|bash|pip) ", line.strip())]
    for row in re.findall(r"^\|.*\|$", text, re.M):
        found += re.findall(r"`((?:python3?|bash) [^`]+)`", row)
    return found


class Parsed(Exception):
    pass


def parses(words, monkeypatch):
    """Whether a command's script exists and its parser takes its words (nothing else runs)."""
    program, *args = words
    if program in ("bash", "pip"):
        path = args[-1] if program == "pip" else args[0]  # pip install -r requirements.txt; bash script.sh ...
        return (ROOT / path).is_file()
    if args[:2] == ["-m", "pytest"]:  # the tests it names exist (a -m or -k's expression names none)
        named = [a for a, before in zip(args[2:], ["", *args[2:]], strict=False)
                 if not a.startswith("-") and before not in ("-m", "-k")]
        return all((ROOT / a.split("::")[0]).exists() for a in named)
    if args[0] == "-m":
        module, args = args[1], args[2:]
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.is_file() and (ROOT / module.replace(".", "/") / "__main__.py").is_file():  # a package's
            path, module = ROOT / module.replace(".", "/") / "__main__.py", module + ".__main__"
    else:
        module, args, path = args[0][:-3].replace("/", "."), args[1:], ROOT / args[0]
    if not path.is_file():
        return False
    if not (path.name.startswith("run_") or "ArgumentParser" in path.read_text()):  # run scripts: flags.parse
        return True  # a script without a parser: it exists (calling it would run it)
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, argv=None, namespace=None):
        original(self, argv, namespace)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.syspath_prepend(str(ROOT))
    main = importlib.import_module(module).main
    try:
        main(args)
    except Parsed:
        return True
    except SystemExit:
        return False
    raise AssertionError(f"{module}.main returned without parsing its flags")


CASES = [(page.relative_to(ROOT).as_posix(), c) for page in PAGES for c in commands(page.read_text())]


@pytest.mark.parametrize("page, command", CASES)
def test_every_command_of_the_pages_parses(page, command, monkeypatch, capsys):
    assert parses(shlex.split(command), monkeypatch), f"{page}: {command}"


def test_the_check_can_fail(monkeypatch, capsys):
    assert parses(["python", "run_vae.py", "--z", "4", "-gw", "0"], monkeypatch) is False
    assert parses(["python", "run_ssvae.py", "--features", "m1"], monkeypatch) is False
    assert parses(["python", "run_nothing.py"], monkeypatch) is False
    assert parses(["python", "-m", "codebase.report", "--logs", "results", "--bogus"], monkeypatch) is False
    assert parses(["python", "run_ssvae.py", "-gw", "0"], monkeypatch) is True
    assert commands("```\npython run_vae.py  # the VAE\n```\n| a | `python run_gmvae.py --k 5` |\n") == [
        "python run_vae.py", "python run_gmvae.py --k 5"]


def test_the_m1m2_ablation_table_is_what_its_records_make(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    table = importlib.import_module("experiments.m1m2_table").table
    made = table(records.load([str(ROOT / "results" / "m1m2-ablation"), str(ROOT / "results")]))
    page = (ROOT / "docs" / "m1m2.md").read_text()
    command = "python experiments/m1m2_table.py results/m1m2-ablation results --page docs/m1m2.md"
    assert f"<!-- ablation -->\n{made}\n<!-- /ablation -->" in page, f"rebuild it: {command}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_record_and_picture_a_page_cites_exists(page):
    """Paths under results/ (wildcards and <placeholders> aside), relative to the repository."""
    text = page.read_text()
    cited = {p.rstrip(".,:;") for p in re.findall(r"results/[^\s)`'\"\]]+", text) if not re.search(r"[<*]", p)}
    missing = [p for p in sorted(cited) if not (ROOT / p).exists()]
    assert not missing, f"{page.name} cites {missing}"


ABSOLUTE = re.compile(r"(?<![\w.:/\-])/[A-Za-z_][\w.-]*/")  # /home/..., /tmp/...: not results/x, not https://


def test_no_record_or_page_of_the_results_names_a_folder_of_the_machine_it_was_made_on():
    assert ABSOLUTE.search("--data-dir /home/me/data") and not ABSOLUTE.search("results/a/b, https://x.org/a/")
    found = [(p.relative_to(ROOT).as_posix(), m[0]) for p in sorted((ROOT / "results").rglob("*"))
             if p.suffix in (".json", ".md") for m in ABSOLUTE.finditer(p.read_text())]
    assert not found, f"absolute paths in results/: {found[:5]}"
