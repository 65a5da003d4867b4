"""net_veth.py: the net stage, with a cable to the host: a veth pair.

No C twin: it branches from net.py, beside the ladder.  The net stage's
child has a network of its own, and nothing in it but `lo`, down.  A veth
pair is two interfaces joined by a virtual cable: the parent makes one end
in the host's namespace (`vethc80001`, named after its address) and its
peer, `eth0`, in the child's; each end gets an address of a /30, and the
child a default route through the host's end.  It is what `ip link add ...
type veth peer ... netns PID`, `ip addr add` and `ip route add` do, here as
rtnetlink messages built with `struct` in libns.py; -v shows each one, as
`ip` would say it.

Needs root: the host's end lives in the host's network namespace, which an
ordinary user may not change (rootless tools such as slirp4netns and pasta
relay packets through a user process instead).

Try:    sudo python3 net_veth.py ip -br addr
        sudo python3 net_veth.py ip route
You see: lo UP and eth0 UP with 10.200.0.2/30; a default route via
10.200.0.1, the host's end, which `ip -br addr` on the host shows while the
command runs, and which is gone with it.
"""
import libns
from runtime import network

clone_flags = (
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)

# (the host's end, its address, the container's address, the prefix length)
pair = None


def child_exec(argv):
    """The child, after clone(): its network up, then the command."""
    network.bring_up_inside(pair)
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    network.refuse_veth_without_root()
    pair = network.free_veth_subnet()
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv,
                      prepare=lambda pid: network.connect(pid, pair))
    status = libns.waitpid(pid)
    libns.exit(status)  # + deletes the host's end now, not when the kernel gets to it
