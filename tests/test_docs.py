"""The documentation cannot rot: every command it quotes runs here.

In README.md and EXERCISES.md:
- a ```console block holds commands (`$ ` lines) and what they print, with
  `...` for any text (alone on a line: any lines) and `4242` for any number;
- a ```sh block is a script that must succeed;
- a ```sh no-test block is not run: NOT_RUN below says why, block by block;
- a ```sh docker block is run by test_docker.py, with a Docker engine;
- the README's ```sh setup block is run with Debian's own python3;
- the README's stage table: each "try" command must succeed.  What it says
  you will see is asserted, exactly, by test_isolation.py.
Commands run as root with `sudo ` dropped, from a copy of the checkout, each
in a session of its own that is killed afterwards, so that a `&` job ends.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from helpers import ROOT, TIMEOUT, cgroups_refusal, read, stage_env, table_commands

pytestmark = pytest.mark.usefixtures("namespaces_work")

DOCUMENTS = ["README.md", "CONTAINER.md", "EXERCISES.md", "TEACHING.md", "CHEATSHEET.md"]
BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.M | re.S)
# The first words of each block that is not run, and why.
NOT_RUN = {
    "sudo python3 container.py": "it is typed at a terminal: tests/test_terminal.py types it",
}


def blocks(kind):
    """(document, text) of every fenced block whose info string is `kind`."""
    return [(document, match.group(2)) for document in DOCUMENTS
            for match in BLOCK.finditer(read(ROOT / document)) if match.group(1) == kind]


def console_examples():
    """(document, command, expected output) of every `$ ` line of a console block."""
    examples = []
    for document, text in blocks("console"):
        for part in re.split(r"^\$ ", text, flags=re.M)[1:]:
            command, _, expected = part.partition("\n")
            examples.append((document, command, expected))
    return examples


def pattern_of(expected):
    """A regular expression for the expected output of a console example."""
    parts = []
    for line in expected.splitlines():
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            escaped = re.escape(line).replace(r"\.\.\.", ".*?").replace("4242", r"\d+")
            parts.append(escaped + r"\n")
    return "".join(parts)


@pytest.fixture(scope="module")
def checkout_copy():
    """A copy of the checkout to run in, so that a command's files land there."""
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="libns-docs-"))
    copy = folder / "checkout"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    yield copy
    shutil.rmtree(folder)


def run_shell(script, folder):
    """Run `script` with sh in `folder`, stdout and stderr together; kill what it left.

    The output goes to a file, not a pipe: a `&` job would hold a pipe open.
    A script that makes a message queue (ipcmk) runs with IPC objects of its
    own (unshare --ipc): the queue goes with them, and nobody else's queue
    on this machine is ever touched.  One that makes a veth pair runs in a
    network of its own (unshare --net), where its vethc80001 is nobody
    else's, as test_network.py's tools do.
    """
    script = re.sub(r"(^|\s|\$\()sudo ", r"\1", script)
    with tempfile.TemporaryFile("w+") as output:
        own = [option for option, word in (("--ipc", "ipcmk"), ("--net", "veth"))
               if word in script]
        process = subprocess.Popen([*(["unshare", *own] if own else []), "sh", "-c", script],
                                   cwd=folder, stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=stage_env(), start_new_session=True)
        try:
            status = process.wait(timeout=TIMEOUT)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        output.seek(0)
        return status, output.read()


def skip_without_cgroups(text):
    """Skip, saying why, an example of limits where no cgroup can be made (inside docker run)."""
    if any(word in text for word in ("cgroup.procs", "--memory", "--pids-limit", "check.py 13")):
        refusal = cgroups_refusal()
        if refusal:
            pytest.skip(f"cgroup limits: {refusal}")


@pytest.mark.parametrize("document, command, expected", console_examples(),
                         ids=lambda value: value[:60] if isinstance(value, str) else None)
def test_console_example_prints_what_the_document_says(document, command, expected, checkout_copy):
    skip_without_cgroups(command)
    _, output = run_shell(command, checkout_copy)
    if not output.endswith("\n"):
        output += "\n"
    assert re.fullmatch(pattern_of(expected), output), (
        f"{document}: `{command}` printed:\n{output}\nwhere the document says:\n{expected}")


@pytest.mark.parametrize("document, script", blocks("sh"),
                         ids=lambda value: value.splitlines()[0][:60] if "\n" in value else None)
def test_sh_block_succeeds(document, script, checkout_copy):
    skip_without_cgroups(script)
    status, output = run_shell("set -e\n" + script, checkout_copy)
    assert status == 0, f"{document}: this block failed:\n{script}\nprinting:\n{output}"


@pytest.mark.parametrize("command", table_commands())
def test_stage_table_command_succeeds(command, checkout_copy):
    status, output = run_shell(command, checkout_copy)
    assert status == 0, output


DEBIAN_PYTHON = "/usr/bin/python3"


def test_the_readme_s_set_up_works_with_debian_s_own_python(checkout_copy):
    # Line by line, as a new Debian machine runs it, with the interpreter
    # its package of pytest is for (not this suite's, which may be pyenv's).
    # The test run itself is collected, not run: it is this suite.
    if not os.path.exists("/etc/debian_version") or not os.path.exists(DEBIAN_PYTHON):
        pytest.skip("not a Debian machine with its own python3")
    [(_, script)] = blocks("sh setup")
    # preflight.py, as root, runs a stage as nobody, who must read the checkout.
    checkout_copy.parent.chmod(0o755)
    for line in script.splitlines():
        command = line.split("#")[0].split()
        if command[:3] == ["sudo", "apt", "install"]:
            for package in command[3:]:
                state = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package],
                                       capture_output=True, text=True, timeout=TIMEOUT)
                if state.stdout != "install ok installed":
                    pytest.skip(f"{package} is not installed here (.ci/run installs it)")
            continue
        command = [DEBIAN_PYTHON if word == "python3" else word for word in command
                   if word != "sudo"]
        if command[1:3] == ["-m", "pytest"]:
            command += ["--collect-only", "-q", "-p", "no:cacheprovider"]
        done = subprocess.run(command, cwd=checkout_copy, capture_output=True, text=True,
                              timeout=10 * TIMEOUT)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"


def test_only_the_known_blocks_are_not_run():
    first_words = {text.split("#")[0].strip().splitlines()[0].strip()
                   for _, text in blocks("sh no-test")}
    assert first_words == set(NOT_RUN)


def test_every_block_is_of_a_known_kind():
    kinds = {match.group(1) for document in DOCUMENTS
             for match in BLOCK.finditer(read(ROOT / document))}
    # mermaid: diagrams, drawn where the repository is browsed; never run.
    # sh docker: run by test_docker.py, with an engine of its own (-m docker).
    # sh podman: run by test_podman.py, with a podman of its own (-m docker).
    # sh setup: the README's set-up, run with Debian's python3 (above).
    assert kinds <= {"console", "sh", "sh no-test", "sh docker", "sh podman", "sh setup", "text",
                     "python", "mermaid"}


def ignored_names(path):
    """The top-level names an ignore file (.gitignore, .dockerignore) leaves out."""
    lines = [line.strip() for line in read(path).splitlines()]
    return [line.rstrip("/") for line in lines
            if line and not line.startswith(("#", "!")) and "/" not in line.rstrip("/")]


def test_what_the_docs_made_is_ignored_by_git_and_docker(checkout_copy):
    # Last in this file: after every example ran in the copy.  Doing the
    # README in order once left img/ with a whiteout device, and COPY . .
    # then failed every Docker test.
    import fnmatch
    made = {path.name for path in checkout_copy.iterdir()} - {path.name for path in
                                                               ROOT.iterdir()}
    made |= {"img", "out"}  # what the examples are known to make, whether or not they ran
    for name in sorted(made):
        for ignore in (".gitignore", ".dockerignore"):
            assert any(fnmatch.fnmatch(name, pattern) for pattern in
                       ignored_names(ROOT / ignore)), f"{name}: made by an example, not in {ignore}"


def test_the_cheat_sheet_s_flags_are_libns_s():
    import libns
    sheet = read(ROOT / "CHEATSHEET.md")
    for name, flag_name, flag, _ in libns.NAMESPACES:
        assert f"| {name} | `{flag_name}` | `{flag:#010x}` |" in sheet


# Mermaid, as far as these diagrams use it: a flowchart's nodes, edges
# (with a label between bars) and subgraphs; a sequence diagram's
# participants and messages.
MERMAID_LINE = {
    "flowchart": re.compile(
        r'(subgraph \w+\["[^"]*"\]|end'
        r'|\w+(\["[^"]*"\])?( (-->|-\.->|===|-\. "[^"]*" \.->)(\|[^|]*\|)? \w+(\["[^"]*"\])?)*)'),
    "sequenceDiagram": re.compile(r"(participant \w+ as .+|\w+->>\w+: .+)"),
}


@pytest.mark.parametrize("document, diagram", blocks("mermaid"),
                         ids=lambda value: value.splitlines()[0][:40] if "\n" in value else None)
def test_each_diagram_parses_as_mermaid(document, diagram):
    kind, *lines = diagram.splitlines()
    assert kind.split()[0] in MERMAID_LINE, f"{document}: {kind}: not a kind these diagrams use"
    opened = 0
    for line in lines:
        assert MERMAID_LINE[kind.split()[0]].fullmatch(line.strip()), f"{document}: {line!r}"
        opened += line.strip().startswith("subgraph ") - (line.strip() == "end")
        assert opened >= 0, f"{document}: an `end` without its subgraph"
    assert opened == 0, f"{document}: a subgraph without its `end`"
