"""The OCI's own judge: runtime-tools' validation suite, run against oci.py and against runc.

Run alone, as .ci/run does: `python3 -m pytest -m peers` (about four
minutes).  The suite is a peer's, not ours: it is read from
../shared/peers/ beside the checkout, built offline with Debian's Go
(installed if missing, with runc), and its 58 executables each start
containers through the runtime that RUNTIME names and print TAP.  The
table in CONTAINER.md says, for each, how many checks passed and failed
with each runtime, and why: this test measures both and compares, and
finds no check that runc passes failed by oci.py.

Both runtimes run in a mount namespace and a cgroup namespace of the
test's own, with the cgroup file systems mounted again in it: the suite
asks for cgroups at absolute paths (/cgrouptest), which are then below
the test's own cgroup, as this machine's rules want (its memory cgroup is
a nested one), and a mount made in the runtime's namespace (runc's, for
linux_ns_itype) is not the host's.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import ROOT, in_cgroup_namespace, read

pytestmark = [pytest.mark.peers, pytest.mark.usefixtures("namespaces_work")]

TARBALL = "runtime-tools-0105384.tar.gz"
PEERS = [ROOT.parent / "shared" / "peers", Path(os.environ.get("PEERS", "/nonexistent"))]
DEBIAN_PACKAGES = {"go": "golang-go", "runc": "runc"}
MINUTES = 10  # each executable's, only a guard against a hang
TAP = re.compile(r"^(not )?ok\b(?: (\d+))?", re.M)

@pytest.fixture(scope="module")
def cgroups_before():
    """The folders below our own cgroups before the suite: another's, or an interrupted run's."""
    return own_cgroup_folders()


@pytest.fixture(scope="module")
def suite(tmp_path_factory, cgroups_before):
    """The suite's source folder, its executables built; runc and Go installed if missing."""
    if os.geteuid() != 0:
        pytest.skip("the validation suite starts containers as root")
    tarball = next((folder / TARBALL for folder in PEERS if (folder / TARBALL).exists()), None)
    if tarball is None:
        pytest.skip(f"{TARBALL}: not in ../shared/peers/ beside the checkout (nor in $PEERS)")
    missing = [package for command, package in DEBIAN_PACKAGES.items()
               if not shutil.which(command)]
    if missing:
        for command in (["update", "-qq"], ["install", "-y", "-qq", *missing]):
            subprocess.run(["apt-get", *command], check=True, capture_output=True,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                           timeout=MINUTES * 60)
    work = tmp_path_factory.mktemp("runtime-tools")
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(work)], check=True)
    source = work / "runtime-tools"
    env = {**os.environ, "GOPATH": f"{work}/gopath", "GOCACHE": f"{work}/gocache",
           "GOPROXY": "off", "GOFLAGS": "-mod=vendor"}
    for target in (["tool", "runtimetest"], ["-j2", "validation-executables"]):
        built = subprocess.run(["make", *target], cwd=source, env=env, capture_output=True,
                               text=True, timeout=MINUTES * 60)
        assert built.returncode == 0, built.stdout + built.stderr
    return source


# The folders the suite's configs ask for, above their containers' cgroups.
SUITE_S_CGROUPS = ("cgrouptest", "testdir")


def own_cgroup_folders():
    """The folders below our own cgroup, in each tree: where the suite's cgroups go."""
    from runtime import cgroups
    found, own = cgroups.mounts(), cgroups.own_cgroups()
    trees = [*([("", found["v2"])] if found["v2"] else []), *found["v1"].items()]
    tops = {cgroups._directory(mount, own.get(tree, "/")) for tree, mount in trees}
    return {path for top in tops if top for path in Path(top).iterdir() if path.is_dir()}


def remove_cgroup_folders(folders):
    """rmdir each folder and those below it, deepest first: empty, as the runtimes left them."""
    for top in folders:
        for folder in sorted(top.rglob("*"), key=lambda path: -len(path.parts)) + [top]:
            if folder.is_dir():
                folder.rmdir()


def results(source, runtime):
    """{executable: (ok, not ok)}, and {executable: the numbers of its not oks}: `runtime`'s TAP.

    The folders above a container's cgroup that a runtime made stay, as
    runc leaves them (the suite's /cgrouptest, testdir/cgrouptest): they
    are removed here, once the executable has ended; any other new folder
    is another user's, and stays.
    """
    found, failed = {}, {}
    before = own_cgroup_folders()
    for executable in sorted(source.glob("validation/*/*.t")):
        run = subprocess.run(in_cgroup_namespace([str(executable)]), cwd=source,
                             env={**os.environ, "RUNTIME": runtime}, capture_output=True,
                             text=True, timeout=MINUTES * 60)
        verdicts = TAP.findall(run.stdout)
        found[executable.stem] = tuple(sum(verdict == kind for verdict, _ in verdicts)
                                       for kind in ("", "not "))
        failed[executable.stem] = {number for verdict, number in verdicts if verdict}
        remove_cgroup_folders(folder for folder in own_cgroup_folders() - before
                              if folder.name in SUITE_S_CGROUPS)
    return found, failed


def documented():
    """The table of CONTAINER.md: {executable: ((oci.py ok, not ok), (runc ok, not ok))}."""
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", read(
        ROOT / "CONTAINER.md"), re.M)
    return {name: ((int(a), int(b)), (int(c), int(d))) for name, a, b, c, d in rows}


# The runc the table was measured with; another's counts may differ, and
# then only oci.py's columns are compared.
RUNC = "runc version 1.1.5+ds1"


def test_the_table_in_container_md_is_what_the_suite_says_of_both_runtimes(suite):
    runc_version = subprocess.run(["runc", "--version"], capture_output=True,
                                  text=True).stdout.split("\n")[0]
    ours, ours_failed = results(suite, str(ROOT / "oci.py"))
    if runc_version != RUNC:
        assert ours == {name: row[0] for name, row in documented().items()}
        return
    runc, runc_failed = results(suite, shutil.which("runc"))
    assert {name: (ours[name], runc[name]) for name in ours} == documented()
    # No check that runc passes fails with oci.py (same executable, same number).
    assert {name: ours_failed[name] - runc_failed[name] for name in ours
            if ours_failed[name] - runc_failed[name]} == {}


def test_the_suite_s_cgroups_are_gone_after_it(suite, cgroups_before):
    assert not any(folder.name in SUITE_S_CGROUPS
                   for folder in own_cgroup_folders() - cgroups_before)
