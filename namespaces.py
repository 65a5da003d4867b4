"""namespaces.py: which namespaces a process does not share with the host.

A container is a process whose namespace ids differ from yours; nothing
more.  See namespaces(7): each /proc/PID/ns/TYPE is a link whose target
names a namespace, and two processes share a namespace when the targets are
equal.  This prints them for each PID (default: itself) next to the host's.

The host is PID 1 when we may read it; otherwise the farthest of our
ancestors we may read, since PID 1 may belong to another user.  Inside a PID
namespace PID 1 is the container's own init, and the view says so.

Try:    sudo python3 net_mount_uts.py python3 namespaces.py
        python3 namespaces.py PID           (a stage's child, from outside)
"""
import os
import sys

import libns


def command_name(pid):
    with open(f"/proc/{pid}/comm") as comm:
        return comm.read().strip()


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def host_reference():
    """(pid, namespaces) of the process that stands for the host."""
    try:
        return 1, libns.namespaces_of(1)
    except OSError:
        pass
    pid = os.getpid()
    while parent_of(pid) > 1:
        try:
            libns.namespaces_of(parent_of(pid))
        except OSError:
            break
        pid = parent_of(pid)
    return pid, libns.namespaces_of(pid)


def show_namespaces(pids):
    """Each process's namespaces next to the host's, marking which differ, as text."""
    host_pid, host = host_reference()
    host_name = f"PID {host_pid} ({command_name(host_pid)})"
    if host_pid == os.getpid() == 1:
        host_name += (", which is this process: inside a PID namespace the host's processes"
                      " are out of sight")
    lines = []
    for pid in pids or [str(os.getpid())]:
        try:
            namespaces, name = libns.namespaces_of(pid), command_name(pid)
        except OSError as error:
            libns.exit_with_message(f"process {pid}: {error.strerror}", 125)
        lines.append(f"PID {pid} ({name}), against {host_name}:")
        for kind, namespace in namespaces.items():
            if namespace == host[kind]:
                lines.append(f"  {kind:7} {namespace:20} same")
            else:
                lines.append(f"  {kind:7} {namespace:20} differs (host: {host[kind]})")
    return "".join(line + "\n" for line in lines)


if __name__ == "__main__":
    _, pids = libns.parse_options(sys.argv[1:], __doc__, "[--] [PID...]",
                                  note="Without a PID, it shows its own namespaces.")
    libns.write_stdout(show_namespaces(pids))
