"""net_mount.py: the child gets a mount table of its own.

The C twin: c/net_mount.c

CLONE_NEWNS gives the child a copy of the mount table ("NS" because it was
the first namespace).  What the child mounts afterwards is its own: here a
fresh tmpfs on /tmp.  The copy still lists every host mount; container.py
shows how to leave them behind.

Before mounting anything, the child makes every mount private.  A copied
mount stays in the same "peer group" as the original, and on hosts whose /
is shared (every systemd machine) a mount made under it in one namespace
appears in the other: the tmpfs would show up on the host.  The tutorial
only escapes this because Docker's root is already private.

Try:    python3 net_mount.py mount      (compare with plain `mount`)
        python3 net_mount.py ls -A /tmp
You see: a tmpfs on /tmp, and an empty /tmp; the host's mount table and
/tmp are unchanged.
"""
import libns

clone_flags = (
    libns.CLONE_NEWNS |
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)


def child_exec(argv):
    """The child, after clone(): its setup, then it becomes the command."""
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
    libns.mount("none", "/tmp", "tmpfs", 0, "")
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)  # -h, -v, --; from here errors exit as docker run's
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)  # + what C lacks: see libns
    status = libns.waitpid(pid)  # + passes signals on, as docker run: see libns.waitpid
    libns.exit(status)  # the command's status, or die by its signal
