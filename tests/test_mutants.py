"""The mutation check's bugs can still be planted: each MUTANTS line occurs once in its file, so a
refactoring that moves a line does not silently turn its mutant into a no-op."""
import pytest

from conftest import ROOT
from mutants import MUTANTS


@pytest.mark.parametrize("name, path, line", [(m[0], m[1], m[2]) for m in MUTANTS])
def test_every_mutants_line_is_found_once(name, path, line):
    assert (ROOT / path).read_text().count(line) == 1, f"{name}: mend its line in tests/mutants.py"
