"""init.py: PID 1 of the container, and the process it starts as the command.

The last steps of the child, after the switch to the container's root:

  start_clocks_near_zero()    a time namespace, its clocks near zero
  init()                      PID 1: keep_nothing_of_the_host(), then the
                              command as PID 2 (become_user(), the
                              terminal), pass signals on, reap orphans

The first process of a PID namespace is special to the kernel: it gets only
the signals it has a handler for, and it inherits every orphan.  A command
that was never written to be PID 1 does neither well (the pid stage's
PID-1 trap), so a small init takes that place, as docker run --init does.
"""
import errno
import os
import time

import libns
from runtime import terminal


def start_clocks_near_zero():
    """Enter a new time namespace whose monotonic and boot clocks start near zero.

    CLONE_NEWTIME cannot go through clone(): its bit lies in clone's low byte,
    which holds the child's exit signal.  unshare(CLONE_NEWTIME) instead moves
    only the caller's future children, so PID 1 calls it and its child, the
    command, is the first process in the namespace.  The clocks' offsets
    must be written before that first process enters.  See time_namespaces(7).
    """
    if not os.path.exists("/proc/self/ns/time"):
        return  # Linux before 5.6 has no time namespace
    libns.unshare(libns.CLONE_NEWTIME)
    with open("/proc/self/timens_offsets", "w") as offsets_file:
        for name, clock in (("monotonic", time.CLOCK_MONOTONIC),
                            ("boottime", time.CLOCK_BOOTTIME)):
            # "CLOCK SECONDS NANOSECONDS", nanoseconds never negative.
            seconds, nanoseconds = divmod(-time.clock_gettime_ns(clock), 1_000_000_000)
            offsets_file.write(f"{name} {seconds} {nanoseconds}\n")


def init(argv, pts=None, user=None):
    """PID 1: start the command as PID 2, pass signals on, reap every zombie.

    The PID-1 trap of the pid stage: the kernel gives PID 1 only the signals
    it has a handler for.  This init has handlers for SIGINT, SIGTERM and the
    rest of libns's forwarded signals, and passes them on to the command,
    which is not PID 1 and so gets them as any process does.  It also reaps
    every child: orphans are handed to PID 1, and stay zombies until it
    waits for them.  It ends when the command ends, with its status; as PID
    1 cannot die of a signal sent to itself, a command killed by signal N
    makes it exit with 128+N, as a shell reports it.  With `pts`, the
    container's terminal (-t), the command is a session of its own on it;
    with `user`, an image's User, it runs with those ids (see become_user).
    """
    def setup():
        if pts is not None:
            terminal.attach(0)  # the pts, which keep_nothing_of_the_host() put there
        if user:
            become_user(user)
    keep_nothing_of_the_host(pts)
    returncode = libns.run(0, setup, argv, as_init=True)
    libns.flush_output()
    os._exit(128 - returncode if returncode < 0 else returncode)


def keep_nothing_of_the_host(pts):
    """PID 1 lives beside the command: leave it nothing that the container does not have.

    A process of the runtime's inside the container is a door if it holds
    something of the host's (runc's CVE-2016-9962 and CVE-2024-21626): the
    command could walk /proc/1/fd/N/../.. from a host directory to the
    host's root, or write to the host's terminal through /proc/1/fd/0.
    """
    if pts is not None:
        # The host's terminal: through it the command could type into the
        # host's shell's terminal and change its settings.  The container's
        # own terminal takes its place, for the init's own messages too.
        for fd in (0, 1, 2):
            os.dup2(pts, fd)
        os.close(pts)
    # Every other descriptor: those the tool was given (`exec 9< /tmp`),
    # the layers' and volumes' O_PATH ones, the terminal's socket.  Each
    # leads to the host's files, whatever the container's root.
    libns.close_fds_from_3_except()
    # Not dumpable: the command may no longer open /proc/1/fd, mem, environ,
    # root or cwd, ptrace(2) PID 1 or take its descriptors (pidfd_getfd):
    # that needs CAP_SYS_PTRACE over the user namespace PID 1's memory was
    # made in, the host's.  execve(2) makes the command dumpable again.
    libns.set_dumpable(False)


def become_user(user):
    """An image's User, "name" or "uid", maybe with ":group" or ":gid", as docker run reads it.

    Names are looked up in the image's /etc/passwd and /etc/group, not the
    host's: after pivot_root, those are the only ones there are.  The
    groups go first: after setuid(), nothing may change them any more.
    """
    name, _, group = user.partition(":")
    entry = _lookup("/etc/passwd", name, 2)
    if entry is None and not name.isdigit():
        raise OSError(errno.ENOENT, f"User {user}: no user {name} in the image's /etc/passwd")
    uid, gid, home = (int(entry[2]), int(entry[3]), entry[5]) if entry else (int(name), 0, "/")
    if group:
        group_entry = _lookup("/etc/group", group, 2)
        if group_entry is None and not group.isdigit():
            raise OSError(errno.ENOENT, f"User {user}: no group {group} in the image's /etc/group")
        gid = int(group_entry[2]) if group_entry else int(group)
    groups = sorted({gid, *(int(fields[2]) for fields in _entries("/etc/group")
                            if entry and entry[0] in fields[3].split(","))})
    try:
        with open("/proc/self/setgroups") as setgroups:
            may_set_groups = setgroups.read().strip() == "allow"
    except FileNotFoundError:
        may_set_groups = True  # no user namespace here: the host's root
    if may_set_groups:
        os.setgroups(groups)
    try:
        os.setgid(gid)
        os.setuid(uid)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        # Rootless, the user namespace maps one id, yours, as root inside,
        # and has written "deny" to setgroups: no other uid or gid exists
        # here, and the groups stay as they are (as under `unshare -r`).
        unmapped = " and ".join(f"{kind} {number}" for kind, number in (("uid", uid), ("gid", gid))
                                if not _mapped(f"/proc/self/{kind}_map", number))
        raise OSError(errno.EINVAL, f"User {user}: {unmapped}: no such id in this user namespace"
                      " (rootless, it maps only your own id, as root inside; run as root to"
                      " have more)") from None
    os.environ.setdefault("HOME", home)


def _mapped(map_path, number):
    """True when the id `number` has a line in this user namespace's uid_map or gid_map."""
    with open(map_path) as id_map:
        ranges = [tuple(map(int, line.split())) for line in id_map]
    return any(inside <= number < inside + count for inside, _, count in ranges)


def _entries(path):
    """The lines of /etc/passwd or /etc/group, as lists of fields."""
    try:
        with open(path) as file:
            return [line.rstrip("\n").split(":") for line in file if line.count(":") >= 3]
    except FileNotFoundError:
        return []


def _lookup(path, key, id_field):
    """The entry of `path` whose name, or id, is `key`."""
    return next((fields for fields in _entries(path)
                 if fields[0] == key or (key.isdigit() and fields[id_field] == key)), None)
