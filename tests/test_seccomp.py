"""The seccomp filter: Docker's default profile, an allowlist, on all three x86 ABIs.

The compiled program is run here by a small BPF interpreter for every call
of every ABI and held to the profile read as data (seccomp.action_for);
then the kernel runs it, inside container.py, for the calls Docker refuses.
"""
import errno
import struct

import pytest

import libns
from runtime import seccomp
from helpers import ROOT, run_as_nobody, run_container

# Arguments worth trying: each family socket() compares, each personality
# value it allows and one it does not, clone's namespace flags and none.
ARGUMENTS = [0, 8, 17, 38, 39, 40, 41, 0x20000, 0x20008, 0x40000, 0xFFFFFFFF, 1 << 32,
             libns.CLONE_NEWNET | 17, libns.CLONE_NEWTIME | 17]


def run_bpf(program, number, architecture, argument):
    """What the kernel's BPF interpreter returns for one call (the few instructions we use)."""
    data = struct.pack("<iIQ6Q", number, architecture, 0, argument, 0, 0, 0, 0, 0)
    accumulator, position = 0, 0
    while True:
        code, jump_true, jump_false, k = program[position]
        position += 1
        if code == seccomp.BPF_LD_W_ABS:
            accumulator = struct.unpack_from("<I", data, k)[0]
        elif code == seccomp.BPF_ALU_AND_K:
            accumulator &= k
        elif code == seccomp.BPF_JA:
            position += k
        elif code == seccomp.BPF_RET:
            return k
        else:
            holds = {seccomp.BPF_JEQ: accumulator == k, seccomp.BPF_JGT: accumulator > k,
                     seccomp.BPF_JGE: accumulator >= k}[code]
            position += jump_true if holds else jump_false


@pytest.mark.parametrize("capabilities", [["CHOWN"], ["SYS_ADMIN", "SYS_PTRACE"],
                                          list(libns.CAPABILITIES)])
def test_the_program_does_what_the_profile_says_for_every_call(capabilities):
    profile = seccomp.docker_profile(capabilities)
    program = seccomp.compile(profile)
    assert len(program) <= seccomp.MAX_INSTRUCTIONS
    for abi, audit_arch in [("SCMP_ARCH_X86_64", 0xC000003E), ("SCMP_ARCH_X32", 0xC000003E),
                            ("SCMP_ARCH_X86", 0x40000003)]:
        for name, number in seccomp.numbers(abi).items():
            for argument in ARGUMENTS:
                action, code = seccomp.action_for(profile, name, [argument])
                assert run_bpf(program, number, audit_arch, argument) == (
                    seccomp._return(profile, action, code)), (abi, name, argument)
    # A call no ABI has, and an architecture the profile does not name: EPERM.
    assert run_bpf(program, 999, 0xC000003E, 0) == seccomp.SECCOMP_RET_ERRNO | errno.EPERM
    assert run_bpf(program, 20, 0xC00000B7, 0) == seccomp.SECCOMP_RET_ERRNO | errno.EPERM


def test_the_profile_is_docker_s_own_file_resolved_for_the_capabilities():
    default = seccomp.docker_profile(["CHOWN"])
    assert default["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert (default["defaultAction"], default["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    assert seccomp.action_for(default, "clone3") == ("SCMP_ACT_ERRNO", errno.ENOSYS)
    assert seccomp.action_for(default, "mount")[0] == "SCMP_ACT_ERRNO"
    admin = seccomp.docker_profile(["SYS_ADMIN"])
    assert seccomp.action_for(admin, "mount")[0] == "SCMP_ACT_ALLOW"
    assert seccomp.action_for(admin, "clone", [libns.CLONE_NEWNET])[0] == "SCMP_ACT_ALLOW"
    assert seccomp.action_for(admin, "open_tree_attr")[0] == "SCMP_ACT_ERRNO"


# Each call, with arguments that do no harm, and what it gives inside.
PROBE = """
import errno, libns
from runtime import seccomp
table = seccomp.numbers("SCMP_ARCH_X86_64")
for name, arguments in [
        ("io_uring_setup", (1, bytes(120))), ("socket", (40, 1, 0)), ("socket", (38, 5, 0)),
        ("personality", (0x0040000,)), ("open_tree_attr", (-100, b"/", 1, 0, 0)),
        ("pidfd_getfd", (0, 0, 0)), ("process_madvise", (0, 0, 0, 0, 0)),
        ("fanotify_init", (0, 0)), ("quotactl_fd", (0, 0, 0, 0)), ("clone3", (0, 0)),
        ("kexec_file_load", (0, 0, 0, b"", 0)), ("personality", (0xFFFFFFFF,))]:
    try:
        libns.syscall(table[name], *arguments)
        print(name, "ok")
    except OSError as error:
        print(name, errno.errorcode[error.errno])
try:
    libns.syscall(1000)
except OSError as error:
    print("a number no kernel has", errno.errorcode[error.errno])
"""
REFUSED = ["io_uring_setup EPERM", "socket EPERM", "socket EPERM", "personality EPERM",
           "open_tree_attr EPERM", "pidfd_getfd EPERM", "process_madvise EPERM",
           "fanotify_init EPERM", "quotactl_fd EPERM", "clone3 ENOSYS", "kexec_file_load EPERM",
           "personality ok", "a number no kernel has EPERM"]


@pytest.mark.usefixtures("namespaces_work")
@pytest.mark.parametrize("user", ["root", "--userns", "nobody"])
def test_calls_docker_refuses_are_refused_inside(user, world_readable_copy):
    checkout = world_readable_copy if user == "nobody" else ROOT
    arguments = ["--volume", f"{checkout}:/lesson:ro", "-e", "PYTHONPATH=/lesson", "python3",
                 "-c", PROBE]
    if user == "nobody":
        result = run_as_nobody(world_readable_copy, "container.py", *arguments)
    else:
        result = run_container(*(["--userns"] if user == "--userns" else []), *arguments)
    assert (result.stderr, result.stdout.splitlines()) == ("", REFUSED)


@pytest.mark.usefixtures("namespaces_work")
def test_cap_add_enables_the_calls_its_capability_needs_and_no_others():
    result = run_container("--cap-add", "SYS_ADMIN,SYS_PTRACE", "--volume", f"{ROOT}:/lesson:ro",
                           "-e", "PYTHONPATH=/lesson", "python3", "-c", PROBE)
    lines = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines()
                 if not line.startswith("socket"))
    # Past the filter, the kernel itself judges the (harmless) arguments.
    assert lines["pidfd_getfd"] == "EBADF" and lines["fanotify_init"] != "EPERM"
    assert lines["open_tree_attr"] == "EPERM"  # no profile names it: refused whatever the caps
    assert lines["clone3"] != "ENOSYS"


def test_the_trace_lists_the_profile_rule_by_rule():
    result = run_container("-v", "true")
    lines = result.stderr.splitlines()
    start = lines.index("[child] seccomp: x86_64, x86, x32; a call no rule names: errno EPERM")
    assert lines[start - 1].startswith("[child] prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=")
    assert lines[start + 1].startswith("[child]   allow: accept accept4 access ")
    assert "[child]   allow if args[0] < 38: socket" in lines
    assert "[child]   allow if args[0] & 0x7e020000 == 0x0: clone" in lines
    assert "[child]   errno ENOSYS: clone3" in lines
