"""Fixtures and hooks of the tests; the helpers they share are in helpers.py."""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from helpers import (CAP_SYS_ADMIN, C_TWIN, OUR_QUEUE_MODE, ROOT, TIMEOUT, cgroups_refusal,
                     copy_programs, host_state, make_tiny_rootfs, read)


@pytest.fixture(scope="session")
def c_programs(tmp_path_factory):
    """The C twins, built with gcc -Wall -Wextra; {name: path}."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed: cannot build the C programs in c/")
    folder = tmp_path_factory.mktemp("c")
    built = {}
    for name in C_TWIN.values():
        compiled = subprocess.run(["gcc", "-Wall", "-Wextra", "-o", str(folder / name),
                                   str(ROOT / "c" / f"{name}.c")],
                                  capture_output=True, text=True, timeout=TIMEOUT)
        assert (compiled.returncode, compiled.stderr) == (0, ""), f"{name}.c: {compiled.stderr}"
        built[name] = folder / name
    return built


@pytest.fixture(scope="session")
def world_readable_copy():
    """A folder nobody can read: the stage scripts, and a mount point for Python."""
    if not shutil.which("setpriv"):
        pytest.skip("needs util-linux setpriv to drop to an ordinary user")
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="libns-rootless-"))
    folder.chmod(0o755)
    copy_programs(folder)
    (folder / "python").mkdir()
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def visible_dir():
    """A folder the child can see: the mount stages hide /tmp behind a tmpfs.

    Not in the checkout either, which may itself be under /tmp.
    """
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="libns-test-"))
    yield path
    shutil.rmtree(path)


@pytest.fixture
def tiny_rootfs(visible_dir):
    """A root file system with sh, cat, ls and sleep from the host and their libraries."""
    root = make_tiny_rootfs(visible_dir / "rootfs")
    visible_dir.chmod(0o755)
    return root


@pytest.fixture
def host_queue():
    """A System V message queue on the host, so that hiding it means something."""
    made = subprocess.run(["ipcmk", "-Q", "-p", OUR_QUEUE_MODE], capture_output=True, text=True,
                          check=True)
    queue_id = made.stdout.split()[-1]
    yield queue_id
    subprocess.run(["ipcrm", "-q", queue_id], check=True)


@pytest.fixture(scope="session", autouse=True)
def no_terminal_on_stdin():
    """Every tool a test starts reads /dev/null, never the terminal pytest runs in.

    container.py takes a terminal on stdin for its own (-t), and would put
    yours in raw mode; tests that want a terminal make one (terminal.py).
    """
    saved = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    yield
    os.dup2(saved, 0)
    os.close(saved)


@pytest.fixture(autouse=True)
def host_is_untouched():
    """Every test checks the host before and after: the host is sacred."""
    before = host_state()
    yield
    assert host_state() == before


def _effective_capabilities():
    status = read("/proc/self/status")
    return int(re.search(r"^CapEff:\s*([0-9a-f]+)", status, re.M).group(1), 16)


@pytest.fixture
def cgroups_work():
    """Skip, saying why, where no cgroup can be made (inside docker run, whose cgroups are
    read-only): the limits' tests need one of their own."""
    refusal = cgroups_refusal()
    if refusal:
        pytest.skip(f"cgroup limits: {refusal}")


@pytest.fixture(scope="session")
def namespaces_work():
    """Skip, saying why, where this machine cannot create namespaces at all.

    The check is util-linux unshare, not our own code, so that a bug of ours
    fails the tests instead of skipping them.
    """
    if os.geteuid() != 0 or not _effective_capabilities() & (1 << CAP_SYS_ADMIN):
        pytest.skip("creating namespaces needs root with CAP_SYS_ADMIN"
                    " (rootless stages are issue #4)")
    if shutil.which("unshare"):
        probe = subprocess.run(["unshare", "-nmuipf", "--mount-proc", "true"],
                               capture_output=True, text=True, timeout=TIMEOUT)
        if probe.returncode != 0:
            pytest.skip(f"the kernel refuses namespaces here: {probe.stderr.strip()}")


_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """In CI every namespace works, so a skipped test there is a failure."""
    if os.environ.get("CI") and _skipped and exitstatus == 0:
        print(f"\nCI: {len(_skipped)} test(s) skipped, and nothing may skip in CI:",
              *_skipped, sep="\n  ")
        session.exitstatus = 1
