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

clone_flags = (
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)

# (the host's end, its address, the container's address, the prefix length)
pair = None


def connect(pid, pair):
    """The parent's part, before the child goes on: the pair, the host's end up.

    The tool deletes its end on every way out, a failure included, so that
    nothing of the pair stays on the host (the kernel removes it too, later).
    """
    host_end, host_address, _, prefix = pair
    libns.at_exit(lambda: libns.delete_link(host_end))  # on every way out
    libns.add_veth_pair(host_end, "eth0", pid)
    libns.add_address(host_end, host_address, prefix)
    # The host's end trusts nothing the container sends: reverse-path
    # filtering drops a packet whose source is not on the container's side
    # (no spoofing of another address), and accept_ra 0 ignores its IPv6
    # router advertisements, which would reroute the host (CVE-2020-13401).
    set_interface_setting("ipv4", host_end, "rp_filter", "1")
    set_interface_setting("ipv6", host_end, "accept_ra", "0")
    libns.set_link_up(host_end)


def set_interface_setting(family, interface, name, value):
    """Write /proc/sys/net/FAMILY/conf/INTERFACE/NAME, if this kernel has it (IPv6 may be off)."""
    path = f"/proc/sys/net/{family}/conf/{interface}/{name}"
    try:
        with open(path, "w") as setting:
            setting.write(value)
    except FileNotFoundError:
        return
    except OSError as error:
        raise OSError(error.errno, f"write {value} to {path}: {error.strerror}") from None
    libns.trace(f"write(\"{path}\", \"{value}\")")


def bring_up_inside(pair):
    """The child's part: lo and eth0 up, eth0's address, a default route via the host's end."""
    _, host_address, address, prefix = pair
    libns.set_link_up("lo")
    libns.add_address("eth0", address, prefix)
    libns.set_link_up("eth0")
    libns.add_default_route(host_address, "eth0")


def child_exec(argv):
    """The child, after clone(): its network up, then the command."""
    bring_up_inside(pair)
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    libns.refuse_veth_without_root()
    pair = libns.free_veth_subnet()
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv,
                      prepare=lambda pid: connect(pid, pair))
    status = libns.waitpid(pid)
    libns.exit(status)  # + deletes the host's end now, not when the kernel gets to it
