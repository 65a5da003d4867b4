"""enter.py: run a command inside the namespaces of a running process.

A container is a process whose namespaces differ from yours; to "exec into"
it, join them.  setns(2) moves the caller into the namespace an open
/proc/PID/ns/TYPE file refers to.  This is `nsenter --target PID --all` and
`docker exec`:

- the user namespace first, when it differs: it is what gives an ordinary
  user the right to join the others; then we become its root (uid and gid
  0 inside), as nsenter does;
- the mount namespace, then the process's root (when it is not ours) and
  working directory, both opened before the move, as a later path lookup
  would find other files;
- the PID and time namespaces apply only to children, so the command runs in
  a child, made by clone() as in the stages, and we wait for it;
- the child gets what the target may do, no more, as `docker exec` gives
  a container's: its bounding set of capabilities, no_new_privs, Docker's
  seccomp profile when the target has a filter, and its environment.  A
  program the container put on PATH runs with what the container has.

Try:    python3 net_mount_uts_ipc_pid.py sleep 1000 &
        child=$(tr -d ' ' < /proc/$!/task/$!/children)   (the tool's one child)
        python3 namespaces.py $child                 (its namespaces)
        python3 enter.py $child ps -e                (what it sees)
        kill -KILL $!                                (the tool, and sleep with it)
You see: PID 1 is sleep, and ps is the only other process; hostname says
custom_hostname; ip addr shows only lo.
"""
import os
import sys

import libns
from runtime import seccomp
# What enter.py may import later, imported now: after chroot, an import
# would run the container's files (its own /usr/lib/python3) as our root.
import resource  # noqa: F401 (libns.die_by_signal's)
import signal  # noqa: F401 (libns's signal names, for the trace)


def open_namespaces(pid):
    """Open the target's namespaces that differ from ours, and its root and cwd.

    In the order setns(2) must join them: libns.SETNS_ORDER, as nsenter's.
    The root is None when it is ours.
    """
    ours = libns.namespaces_of()
    namespaces = []
    for kind in libns.SETNS_ORDER:
        path = f"/proc/{pid}/ns/{kind}"
        if kind in ours and os.readlink(path) != ours[kind]:
            namespaces.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC), path))
    root = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if same_file(root, "/proc/self/root"):
        os.close(root)
        root = None
    cwd = os.open(f"/proc/{pid}/cwd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return namespaces, root, cwd


def enter(pid):
    """Join every namespace of process `pid` that differs from ours, and its root and cwd."""
    namespaces, root, cwd = open_namespaces(pid)
    for fd, path in namespaces:
        libns.setns(fd, path)
        os.close(fd)
        if path.endswith("/user"):
            become_root_inside()
    # chroot(2) needs CAP_SYS_CHROOT: an ordinary user entering a process
    # of their own with the same root has it nowhere, and needs no chroot.
    if root is not None:
        os.fchdir(root)
        os.chroot(".")
        os.close(root)
    os.fchdir(cwd)
    os.close(cwd)


def become_root_inside():
    """After joining a user namespace: be its root, uid and gid 0, as nsenter(1) does.

    setns(2) gives every capability in the new user namespace but keeps our
    ids; root outside maps to nobody inside a rootless container.  Where
    setgroups is denied (the stages' maps write "deny"), groups stay as they are.
    """
    try:
        os.setgroups([])
    except PermissionError:
        pass
    os.setgid(0)
    os.setuid(0)


def same_file(fd, path):
    """True when the open directory `fd` and `path` are the same directory."""
    ours, theirs = os.stat(path), os.fstat(fd)
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def status_of(pid):
    """/proc/PID/status as a dict: {'CapBnd': '00000000a80425fb', ...}."""
    with open(f"/proc/{pid}/status") as status_file:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status_file if ":\t" in line)


def confinement_of(pid):
    """What process `pid` may do, read before we join it.

    (its capabilities, or None when its bounding set is ours; no_new_privs;
    the seccomp program and its description, or None; the environment, or
    None.)

    /proc/PID/status tells the bounding set, NoNewPrivs and whether a
    seccomp filter is on (Seccomp: 2); the filter itself cannot be read
    back without ptrace, so its program is Docker's profile for those
    capabilities, which is what container.py loads.  The environment is the
    target's /proc/PID/environ, when we may read it.
    """
    status = status_of(pid)
    bounding = int(status["CapBnd"], 16)
    capabilities = {name for number, name in enumerate(libns.CAPABILITIES)
                    if bounding >> number & 1}
    ours = int(status_of("self")["CapBnd"], 16)
    filter_ = None
    if status.get("Seccomp") == "2":
        profile = seccomp.docker_profile(capabilities)
        filter_ = (seccomp.compile(profile), seccomp.describe(profile) if libns.tracing else ())
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ_file:
            entries = [entry for entry in environ_file.read().split(b"\0") if b"=" in entry]
        environment = dict(os.fsdecode(entry).split("=", 1) for entry in entries)
    except PermissionError:
        environment = None  # a process not dumpable: ours stays
    return (capabilities if bounding != ours else None, status.get("NoNewPrivs") == "1", filter_,
            environment)


def child_exec(argv):
    """The child, in the joined PID and time namespaces too: confined as the target, it
    becomes the command."""
    capabilities, no_new_privs, filter_, environment = confinement
    # Not dumpable until the exec: in the container's PID namespace, with
    # root's ids, we would otherwise be open to its ptrace(2) once our
    # capabilities are no more than its, with our memory and descriptors.
    libns.set_dumpable(False)
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    # In this order: seccomp needs no_new_privs or CAP_SYS_ADMIN, which
    # the capabilities may then take away.
    if no_new_privs:
        libns.set_no_new_privs()
    if filter_ is not None:
        libns.load_seccomp_filter(*filter_)
    if capabilities is not None:
        libns.keep_only_capabilities(capabilities)
    libns.execvp(argv)


if __name__ == "__main__":
    usage = "[--] PID [COMMAND [ARG...]]"
    _, arguments = libns.parse_options(sys.argv[1:], __doc__, usage,
                                       note="Without a command, enter.py runs $SHELL (default"
                                            " /bin/sh) inside.")
    libns.errors_exit_like_docker_run()  # from here, every error is one line and 125
    if not arguments or not arguments[0].isdigit():
        raise ValueError(f"the first argument must be a PID\n{libns.usage(usage)}")
    pid, argv = str(int(arguments[0])), arguments[1:] or libns.default_command()
    if not os.path.exists(f"/proc/{pid}"):
        raise ValueError(f"no process with PID {pid}")
    try:
        confinement = confinement_of(pid)
        enter(pid)
    except PermissionError as error:
        raise OSError(error.errno, f"{error.filename or 'setns'}: {error.strerror} (you may"
                      " enter your own processes; root may enter any)") from None
    child_stack = libns.map_stack()
    child = libns.clone(child_exec, child_stack, 0, argv)
    libns.exit(libns.waitpid(child))
