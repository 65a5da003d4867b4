"""Side by side: each stage is the one before it plus one flag and its setup lines.

As the tutorial grows its C program: a reader who diffs two consecutive
stages sees the new CLONE_NEW* flag and the child's new setup lines, and
nothing else but the docstring.
"""
import ast
import difflib

import pytest

from helpers import ROOT, STAGES, libns

LADDER = list(STAGES)
# The flag each stage adds, in the order of libns's table.
NEW_FLAG = {after: name for after, (_, name, _, _) in zip(LADDER[1:], libns.NAMESPACES)}


def code_without_docstring(stage):
    """The stage's lines after its module docstring."""
    source = (ROOT / stage).read_text()
    docstring_end = ast.parse(source).body[0].end_lineno
    return source.splitlines()[docstring_end:]


def child_exec_setup(lines):
    """The setup lines of child_exec: between its docstring and execvp."""
    start = lines.index("def child_exec(argv):") + 2
    return lines[start:lines.index("    libns.execvp(argv)")]


@pytest.mark.parametrize("before, after", list(zip(LADDER, LADDER[1:])))
def test_consecutive_stages_differ_by_the_new_flag_and_its_setup_only(before, after):
    old, new = code_without_docstring(before), code_without_docstring(after)
    diff = list(difflib.ndiff(old, new))
    assert [line for line in diff if line.startswith("- ")] == []
    added = [line[2:] for line in diff if line.startswith("+ ")]
    new_setup = [line for line in child_exec_setup(new) if line not in child_exec_setup(old)]
    assert added == [f"    libns.{NEW_FLAG[after]} |"] + new_setup


def test_every_stage_s_main_is_the_c_twin_s():
    mains = {stage: code_without_docstring(stage)[-6:] for stage in STAGES}
    assert mains["base.py"][:2] == ['if __name__ == "__main__":',
                                    "    argv = libns.command_line(__doc__)  # -h, -v, --; from"
                                    " here errors exit as docker run's"]
    assert len(set(map(tuple, mains.values()))) == 1
