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


def child():
    """The child's setup, between clone() and execvp() of the command."""


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
