"""net.py: the child gets a network stack of its own.

The C twin: c/net.c

CLONE_NEWNET gives the child a new network namespace: its own interfaces,
routes, firewall rules and ports.  A new one holds only a loopback device,
`lo`, and even that is down until someone brings it up.

Try:    python3 net.py ip addr          (compare with plain `ip addr`)
You see: only `lo`, DOWN; the host's interfaces are not there.
"""
import libns

clone_flags = (
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)


def child_exec(argv):
    """The child, after clone(): its setup, then it becomes the command."""
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)  # -h, -v, --; from here errors exit as docker run's
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)  # + what C lacks: see libns
    status = libns.waitpid(pid)  # + passes signals on, as docker run: see libns.waitpid
    libns.exit(status)  # the command's status, or die by its signal
