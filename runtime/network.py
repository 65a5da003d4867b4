"""network.py: a veth pair between the host and the container, as net_veth.py teaches.

The parent makes one end in the host's namespace (`vethc80001`, named after
its address) and its peer, `eth0`, in the child's; each end gets an address
of a /30, and the child a default route through the host's end.  It is what
`ip link add ... type veth peer ... netns PID`, `ip addr add` and `ip route
add` do, as rtnetlink messages (libns.add_veth_pair and its neighbours).

In the spec, `network.veth` is the pair (host end, its address, the
container's address, the prefix length): what Docker's network driver, or a
CNI plugin, sets up around runc, which knows only the namespace.
"""
import errno
import os

import libns


def free_veth_subnet(subnet="10.200.0.0/16"):
    """(host end's name, host's address, container's address, 30): a /30 of `subnet` in no use.

    Each container gets a pair of its own, numbered by its /30 block: a block
    with a host address already on an interface is taken (by another
    container, or by the machine), so several containers never collide.
    The host's addresses are the "/32 host LOCAL" lines of /proc/net/fib_trie.
    """
    import ipaddress
    network = ipaddress.ip_network(subnet)
    if network.prefixlen > 30:
        raise ValueError("it holds no /30, the two addresses of one container's pair")
    with open("/proc/net/fib_trie") as fib:
        lines = fib.read().splitlines()
    local = {lines[number - 1].split()[-1] for number, line in enumerate(lines)
             if "/32 host LOCAL" in line}
    for block in network.subnets(new_prefix=30):
        host, container = list(block.hosts())
        if str(host) not in local and str(container) not in local:
            # Named after its address, so that two subnets never share a name.
            return f"veth{int(host) & 0xFFFFFF:06x}", str(host), str(container), 30
    raise OSError(errno.EADDRNOTAVAIL, f"no /30 of {subnet} is free for a veth pair")


def refuse_veth_without_root():
    """A veth pair's host end needs root: say so, with what rootless tools do instead; 125."""
    if os.geteuid() != 0:
        raise OSError(errno.EPERM, "a veth pair needs root: its host end is in the host's"
                      " network namespace, which an ordinary user may not change (rootless"
                      " containers relay packets with slirp4netns or pasta instead)")


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


def set_up_inside(pair, own_namespace):
    """The child's network: the container's end of a veth pair, or lo alone in its own namespace.

    Without a namespace of its own (--net host), the host's interfaces stay as they are.
    """
    if pair:
        bring_up_inside(pair)
    elif own_namespace:
        libns.set_link_up("lo")
