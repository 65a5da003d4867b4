"""container.py as a boundary: Docker's confinement, and the escapes it stops.

Every escape is probed harmlessly (escapes.py says how), and the host check
after each test looks for any change all the same.
"""
import itertools
import os
import shutil
import subprocess
import sys

import pytest

from helpers import (ROOT, TIMEOUT, as_nobody, copy_programs, read, run_as_nobody, run_container,
                     stage_env)

pytestmark = pytest.mark.usefixtures("namespaces_work")

# Docker's default capabilities, as a mask: CHOWN DAC_OVERRIDE FOWNER FSETID
# KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD
# AUDIT_WRITE SETFCAP.  `docker run debian grep CapEff /proc/self/status` shows it.
DOCKER_CAP_MASK = "00000000a80425fb"
REFUSED = {
    "set the host's clock": "refused by the seccomp filter",
    "write a kernel setting (sysctl)": "refused by a read-only mount",
    "open the host's disk (mknod)": "refused by a nodev mount",
    "load a kernel module": "refused by the seccomp filter",
    "open a file by handle (shocker)": "refused by the seccomp filter",
    "use the kernel's keyrings": "refused by the seccomp filter",
    "open a host file to write": "refused by a read-only mount",
    "remount a host directory read-write": "refused by the seccomp filter",
    "mount a file system": "refused by the seccomp filter",
    "make a new user namespace": "refused by the seccomp filter",
    "clone a mount (new mount API)": "refused by the seccomp filter",
    "see PID 1's descriptors": "refused by a PID 1 that is not dumpable",
    "read PID 1's memory (as ptrace)": "refused by a PID 1 that is not dumpable",
    "read PID 1's environment": "refused by a PID 1 that is not dumpable",
    "take PID 1's descriptor (pidfd_getfd)": "refused by the seccomp filter",
    "reach the host's terminal via PID 1": "refused by a PID 1 that is not dumpable",
    "follow a directory descriptor": "refused by a PID 1 that is not dumpable",
    "set up an io_uring": "refused by the seccomp filter",
    "open an AF_VSOCK socket": "refused by the seccomp filter",
}


@pytest.fixture(params=["root", "nobody"])
def container(request, world_readable_copy):
    """(run container.py with arguments, the checkout as the container sees it)."""
    if request.param == "root":
        return run_container, ROOT
    return (lambda *arguments: run_as_nobody(world_readable_copy, "container.py", *arguments),
            world_readable_copy)


def escapes(run, checkout, *options):
    """{way out: result} of escapes.py run inside container.py with `options`."""
    result = run(*options, "--volume", f"{checkout}:/lesson:ro", "python3", "/lesson/escapes.py")
    assert (result.returncode, result.stderr) == (0, "")
    rows = [line.split("  ", 1) for line in result.stdout.splitlines()[1:]]
    return {way.strip(): outcome.strip() for way, outcome in rows}


def test_status_inside_shows_docker_s_capabilities_and_seccomp(container):
    run, _ = container
    result = run("grep", "-E", "^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):", "/proc/self/status")
    assert dict(line.split(":\t") for line in result.stdout.splitlines()) == {
        "CapEff": DOCKER_CAP_MASK, "CapBnd": DOCKER_CAP_MASK, "CapAmb": "0" * 16,
        "NoNewPrivs": "0", "Seccomp": "2"}


@pytest.mark.parametrize("options, euid", [([], "0"),
                                           (["--security-opt", "no-new-privileges"], "1000")])
def test_a_setuid_program_makes_a_user_root_inside_unless_no_new_privileges(visible_dir, options,
                                                                            euid):
    # As under docker run: setuid root works inside (root within the
    # container's confinement), and --security-opt no-new-privileges stops
    # it.  The copy of id(1) is root's, setuid, in a folder only root reads.
    program = visible_dir / "id"
    shutil.copy("/usr/bin/id", program)
    program.chmod(0o4755)
    result = run_container(*options, "--volume", f"{program}:/setuid-id:ro", "setpriv",
                           "--reuid=1000", "--regid=1000", "--clear-groups", "/setuid-id", "-u")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{euid}\n", "")


def test_security_opt_turns_off_one_layer_each():
    result = run_container("--security-opt", "seccomp=unconfined", "--security-opt",
                           "systempaths=unconfined", "sh", "-c",
                           "grep Seccomp: /proc/self/status;"
                           " grep ' /proc/' /proc/self/mountinfo | wc -l")
    assert (result.returncode, result.stdout, result.stderr) == (0, "Seccomp:\t0\n0\n", "")


def test_every_way_out_is_refused(container):
    run, checkout = container
    results = escapes(run, checkout)
    assert results.pop("open /proc/sysrq-trigger to write") in (
        "refused by a read-only mount", "not on this machine")
    if run is not run_container:  # as nobody, the user namespace is the first to say no
        assert all(outcome.startswith("refused by") for outcome in results.values()), results
    else:
        assert results == REFUSED


def test_privileged_turns_the_layers_off_but_keeps_the_host_s_files_read_only_to_a_write():
    results = escapes(run_container, ROOT, "--privileged")
    results.pop("open /proc/sysrq-trigger to write")
    # A kernel without modules (this machine's) has no finit_module at all.
    assert results.pop("load a kernel module") in ("ALLOWED", "not on this kernel (ENOSYS)")
    assert results == {
        **{way: "ALLOWED" for way in REFUSED if way != "load a kernel module"},
        "open the host's disk (mknod)": "refused by a nodev mount",
        "open a host file to write": "refused by a read-only mount",
        # Even with every capability, PID 1 holds nothing of the host's.
        "reach the host's terminal via PID 1": "refused: no terminal of the host's in reach",
        "follow a directory descriptor": "refused: none is left open",
    }
    status = run_container("--privileged", "grep", "^Seccomp:", "/proc/self/status").stdout
    assert status == "Seccomp:\t0\n"


def test_userns_makes_root_inside_an_ordinary_user_outside(visible_dir):
    visible_dir.chmod(0o755)  # the folder may be passed through, the file may not be read
    secret = visible_dir / "root-only"
    secret.write_text("the host's\n")
    secret.chmod(0o640)
    result = run_container("--userns", "--volume", f"{secret}:/secret", "sh", "-c",
                           "cat /proc/self/uid_map; id -u; cat /secret")
    assert result.stdout.split() == ["0", "100000", "65536", "0"]
    assert result.stderr == "cat: /secret: Permission denied\n"
    assert run_container("--volume", f"{secret}:/secret", "cat", "/secret").stdout == (
        "the host's\n")


def test_a_submount_of_a_read_only_bind_is_read_only_too(visible_dir):
    # Under `docker run --privileged`, /etc/hosts is such a submount.  Made
    # here in a throwaway mount namespace; probed with access(2), no write.
    stand_in = visible_dir / "hosts"
    stand_in.write_text("the host's hosts\n")
    script = f"""
        mount --bind {stand_in} /etc/hosts || exit 90
        exec {sys.executable} {ROOT / 'container.py'} sh -c 'test -w /etc/hosts; echo $?'
    """
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stdout) == (0, "1\n")
    assert stand_in.read_text() == "the host's hosts\n"


@pytest.mark.parametrize("name, target", [("tmp", "/"), ("proc", "/"), ("tmp", "../../../..")])
def test_a_rootfs_whose_mount_point_is_a_symbolic_link_is_refused(tiny_rootfs, name, target):
    (tiny_rootfs / name).rmdir()
    (tiny_rootfs / name).symlink_to(target)
    before = sorted(path.name for path in tiny_rootfs.rglob("*"))
    result = run_container("--rootfs", str(tiny_rootfs), "/bin/ls", "/..")
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == (f"container.py: --rootfs {tiny_rootfs}: /{name} is a symbolic link"
                             f" (to {target}): a mount on it would land outside the rootfs\n")
    assert sorted(path.name for path in tiny_rootfs.rglob("*")) == before


@pytest.mark.parametrize("options, mask", [
    (["--cap-add", "NET_ADMIN"], f"{0xa80425fb | 1 << 12:016x}"),
    (["--cap-add", "cap_sys_time,NET_ADMIN"], f"{0xa80425fb | 1 << 12 | 1 << 25:016x}"),
    (["--cap-drop", "MKNOD"], f"{0xa80425fb & ~(1 << 27):016x}"),
    (["--cap-drop", "ALL"], "0" * 16),
])
def test_cap_add_and_cap_drop_change_the_list_as_docker_s(options, mask):
    result = run_container(*options, "grep", "^CapEff:", "/proc/self/status")
    assert result.stdout == f"CapEff:\t{mask}\n"


def test_an_unknown_capability_is_125():
    result = run_container("--cap-add", "FLY", "true")
    assert (result.returncode, result.stderr) == (125, "container.py: no such capability: FLY\n")


def test_a_stage_inside_is_refused_as_in_docker_without_privileged():
    lesson = ["--volume", f"{ROOT}:/lesson:ro", "python3", "/lesson/net.py", "true"]
    result = run_container(*lesson)
    assert result.returncode == 125
    assert result.stderr == ("net.py: clone CLONE_NEWNET|SIGCHLD: Operation not permitted"
                             " (creating namespaces needs root; in Docker, use docker run"
                             " --privileged)\n")
    assert run_container("--privileged", *lesson).returncode == 0


def test_escapes_in_the_pid_stage_finds_root_unconfined(visible_dir):
    # Copies the child can see: the stage hides /tmp, where a checkout may be.
    copy_programs(visible_dir)
    result = subprocess.run([sys.executable, str(ROOT / "net_mount_uts_ipc_pid.py"),
                             sys.executable, str(visible_dir / "escapes.py")],
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT,
                            cwd="/")
    rows = dict(line.split("  ", 1) for line in result.stdout.splitlines()[1:])
    allowed = {way.strip() for way, outcome in rows.items() if outcome.strip() == "ALLOWED"}
    assert {"set the host's clock", "write a kernel setting (sysctl)",
            "open a file by handle (shocker)", "mount a file system", "set up an io_uring",
            "clone a mount (new mount API)"} <= allowed
    assert rows["see PID 1's descriptors"].strip() == "not here: escapes.py is PID 1 itself"


def test_volume_refusals_write_nothing(tiny_rootfs):
    before = sorted(path.name for path in tiny_rootfs.rglob("*"))
    for volume, message in [
        ("/no/such:/x", "/no/such: No such file or directory"),
        (f"{ROOT}:relative", "relative: a path inside the container is absolute and has no .."),
        (f"{ROOT}:/a/../b", "/a/../b: a path inside the container is absolute and has no .."),
        (f"{ROOT}:/lesson", "/lesson: no such path in the rootfs to mount on; make it first"),
        (f"{ROOT}:/x:rx", "give it as HOST:CONTAINER or HOST:CONTAINER:ro"),
        (f"{ROOT}:/", "/: the container's root is its own; mount below it"),
        (f"{ROOT}://", "//: the container's root is its own; mount below it"),
    ]:
        result = run_container("--rootfs-rw", str(tiny_rootfs), "--volume", volume, "true")
        assert (result.returncode, result.stderr) == (
            125, f"container.py: --volume {volume}: {message}\n")
    assert sorted(path.name for path in tiny_rootfs.rglob("*")) == before


def test_a_volume_s_missing_mount_point_is_made_in_the_throwaway_layer(tiny_rootfs):
    before = sorted(path.name for path in tiny_rootfs.rglob("*"))
    result = run_container("--rootfs", str(tiny_rootfs), "--volume", f"{ROOT}/c:/lesson/c:ro",
                           "/bin/ls", "/lesson/c/base.c")
    assert (result.returncode, result.stdout, result.stderr) == (0, "/lesson/c/base.c\n", "")
    assert sorted(path.name for path in tiny_rootfs.rglob("*")) == before


def test_as_nobody_too_a_stage_inside_is_refused(world_readable_copy):
    result = subprocess.run(as_nobody(world_readable_copy, "container.py", "--volume",
                                      f"{world_readable_copy}:/lesson:ro", "python3",
                                      "/lesson/net.py", "true"),
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    assert result.returncode == 125
    assert os.path.basename(result.stderr.split(":")[0]) == "net.py"


@pytest.mark.parametrize("swapped", ["a", "a/b"])
def test_a_mount_point_is_reached_without_following_any_link(visible_dir, swapped):
    # As if the owner of a --rootfs-rw tree swapped a directory for a link
    # to the host after the check: the walk itself refuses, and makes nothing.
    from runtime import rootfs
    root, outside = visible_dir / "root", visible_dir / "outside"
    (root / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    target = root / swapped
    shutil.rmtree(target)
    target.symlink_to(outside)
    with pytest.raises(OSError) as refusal:
        rootfs.open_mount_point(str(root), "/a/b/c/d", directory=True, create=True,
                                   what="--volume X:/a/b/c/d")
    assert str(refusal.value) == (f"[Errno 40] --volume X:/a/b/c/d: /{swapped} is a symbolic"
                                  f" link (to {outside}): a mount on it would land outside"
                                  " the image")
    assert os.listdir(outside) == []


# Rows where the kernel, not a layer of ours, decides (its modules, its
# device cgroup, io_uring_disabled, a vsock device): only the columns of
# confined runs are held to them.
MACHINE_ROWS = {"open the host's disk (mknod)", "load a kernel module",
                "open /proc/sysrq-trigger to write", "set up an io_uring",
                "open an AF_VSOCK socket"}


def readme_table():
    """{column: {way out: cell}} of CONTAINER.md's escapes.py table."""
    text = read(ROOT / "CONTAINER.md")
    lines = text[text.index("| way out | pid stage, root |"):].splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in itertools.takewhile(lambda line: line.startswith("|"), lines[2:])]
    return {column: {row[0]: row[number] for row in rows}
            for number, column in enumerate(header) if number}


def short_results(stdout):
    return {line[:38].strip(): line[40:].strip() for line in stdout.splitlines()[1:]}


def test_container_md_s_table_is_what_escapes_py_says(world_readable_copy, visible_dir):
    table = readme_table()
    lesson = ["--volume", f"{world_readable_copy}:/lesson:ro", "python3", "/lesson/escapes.py",
              "--short"]
    copy_programs(visible_dir)
    pid_stage = subprocess.run([sys.executable, str(ROOT / "net_mount_uts_ipc_pid.py"),
                                sys.executable, str(visible_dir / "escapes.py"), "--short"],
                               capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT,
                               cwd="/")
    runs = {"pid stage, root": pid_stage, "`container.py`": run_container(*lesson),
            "`--privileged`": run_container("--privileged", *lesson),
            "`--userns`": run_container("--userns", *lesson),
            "rootless": run_as_nobody(world_readable_copy, "container.py", *lesson)}
    for column, result in runs.items():
        assert (column, result.returncode, result.stderr) == (column, 0, "")
        found, documented = short_results(result.stdout), table[column]
        if column in ("pid stage, root", "`--privileged`"):
            for row in MACHINE_ROWS:
                del found[row], documented[row]
        assert (column, found) == (column, documented)
