"""steps.py: the spec in, a running container out: the parent's run(), the child's create().

The runtime package's entry (see its __init__.py for the map of rooms):
container.py calls run(spec), as docker run calls runc.  Each step is one
function of a room, named for what it does, in the order runc takes them.
"""
import os
import signal

import libns
from runtime import cgroups, confinement, init, network, rootfs, terminal

# The spec's names of namespaces (config.json's linux.namespaces[].type),
# as libns.NAMESPACES names their /proc/PID/ns files.  Two are not in
# clone's flags: the cgroup namespace is entered once the cgroup is joined,
# the time namespace by init.start_clocks_near_zero().
NAMESPACE_FILES = {"network": "net", "mount": "mnt", "uts": "uts", "ipc": "ipc", "pid": "pid",
                   "user": "user", "cgroup": "cgroup", "time": "time"}


def run(spec):
    """Start the container that `spec` describes, wait for it; return its state.

    The parent's side, as `runc run` is: the clone flags from the spec's
    namespaces, the id maps of its user namespace, the cgroup with its
    limits, the veth pair's host end, the terminal's relay, and the wait.
    A failure in the child's steps comes back as libns.ChildError, with
    its status.  The state, as `docker inspect` shows it: {"ExitCode": the
    returncode (-N for signal N), "OOMKilled": whether the memory limit
    killed a process}.
    """
    id_map = id_map_of(spec["linux"])
    layer_trees = id_mapped_layers(spec["root"], id_map)
    resources = spec["linux"].get("resources")
    cgroup = cgroups.Cgroup(spec["linux"]["cgroupsPath"], resources) if resources else None
    if cgroup is not None:
        libns.at_exit(cgroup.remove)  # on every way out, a failure included
    with_terminal = spec["process"]["terminal"]
    tool_end, init_end = terminal.channel() if with_terminal else (None, None)
    pair = spec.get("network", {}).get("veth")

    def child_exec(argv):
        create(spec, layer_trees, init_end, cgroup)

    def prepare(pid):
        """While the child waits for "go": its cgroup, before it runs a line; the veth pair."""
        if cgroup is not None:
            cgroup.join(pid)
        if pair:
            network.connect(pid, pair)

    if with_terminal:
        libns.hold_signals(also=(signal.SIGWINCH,))  # for the window's size
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags_of(spec), spec["process"]["args"],
                      id_map=id_map, prepare=prepare)
    if with_terminal:
        init_end.close()
        returncode = terminal.relay(tool_end,
                                    lambda resize: libns.waitpid(pid, on_signal=resize))
    else:
        returncode = libns.waitpid(pid)
    # As `docker inspect` tells it: how it ended, and whether for memory.
    return {"ExitCode": returncode, "OOMKilled": bool(cgroup and cgroup.oom_kills())}


def clone_flags_of(spec):
    """clone()'s flags for the spec's namespaces (but cgroup and time: see NAMESPACE_FILES)."""
    cloned = {NAMESPACE_FILES[namespace["type"]]
              for namespace in spec["linux"]["namespaces"]} - {"cgroup", "time"}
    return libns.SIGCHLD | sum(flag for name, _, flag, _ in libns.NAMESPACES if name in cloned)


def create(spec, layer_trees, init_end, cgroup=None, pid_1=None, before_switch=None):
    """The child's steps, from a copy of the host's mount table to PID 1; never returns.

    Each is one named function, in the order runc's init takes them: the
    mounts while the host's files can still be reached, then the switch to
    the new root, then what the process keeps, and the confinement last,
    as it would refuse the calls of the steps before it.  `pid_1(process,
    linux, pts)`, an OCI runtime's last step (oci.py), takes the place of the
    init: it confines and execs the command itself as PID 1.
    `before_switch()`, if given, is called once the container's world is
    made and the host's files are still in reach (oci.py's createContainer
    hooks).
    """
    process, linux = spec["process"], spec["linux"]
    if has_namespace(linux, "cgroup"):
        # After the cgroup is joined (see run), so that the container's
        # cgroup is the root of what it sees: /proc/self/cgroup says "0::/".
        libns.unshare(libns.CLONE_NEWCGROUP)
    in_the_caller_s = spec["root"].get("inTheCallersMountNamespace")
    if in_the_caller_s:
        # An OCI config.json without a mount namespace: oci.py has found the
        # caller's not the machine's (rootfs.refuse_the_machine_s_mounts).
        libns.allow_mounts_in_the_tool_s_namespace()
    else:
        rootfs.make_mounts_private()
    bind_sources = rootfs.open_bind_sources(spec["mounts"])
    root = rootfs.build_root(spec["root"], layer_trees)
    # A --rootfs-rw directory is the user's: no mount point is made in it.
    # An OCI bundle's root is the runtime's to prepare (makeMountPoints), as runc's.
    rootfs.mount_all(root, spec["mounts"], bind_sources,
                     writable_root="path" in spec["root"]
                     and not spec["root"].get("makeMountPoints"),
                     cgroup=cgroup)
    rootfs.make_devices(root, linux["devices"])
    rootfs.write_files(root, spec.get("files", {}))
    confinement.hide_paths(root, linux["maskedPaths"], linux["readonlyPaths"])
    if spec["hostname"] is not None:  # an OCI config may leave the namespace's as it is
        libns.sethostname(spec["hostname"])
    network.set_up_inside(spec.get("network", {}).get("veth"), has_namespace(linux, "network"))
    if before_switch is not None:
        before_switch()
    rootfs.switch_root(root, in_the_caller_s)
    libns.set_environment(dict(item.split("=", 1) for item in process["env"]))
    if process["cwd"] != "/":
        os.makedirs(process["cwd"], exist_ok=True)  # as docker run does
        os.chdir(process["cwd"])
    if has_namespace(linux, "time"):
        init.start_clocks_near_zero()
    pts = terminal.open_inside(init_end) if process["terminal"] else None
    if pid_1 is not None:
        pid_1(process, linux, pts)
    confinement.confine(process, linux.get("seccomp"))
    init.init(process["args"], pts, process["user"].get("username"))


def has_namespace(linux, kind):
    """True when the spec gives the container a namespace of this kind of its own."""
    return any(namespace["type"] == kind for namespace in linux["namespaces"])


def id_map_of(linux):
    """(uid ranges, gid ranges) of the spec's id mappings, as libns.clone() takes them; or None.

    Each range is (inside, outside, count).  None when there is no user
    namespace, or when it maps only the caller's own ids to 0 (rootless),
    which libns.clone() maps by itself.
    """
    if not linux.get("uidMappings"):
        return None
    uids, gids = ([(entry["containerID"], entry["hostID"], entry["size"]) for entry in linux[key]]
                  for key in ("uidMappings", "gidMappings"))
    if (uids, gids) == ([(0, os.geteuid(), 1)], [(0, os.getegid(), 1)]):
        return None
    return uids, gids


def id_mapped_layers(root, id_map):
    """With a user namespace of many ids: the layers as detached mounts, id-mapped; else None.

    Root inside is uid 100000 outside, and the layers stay root's: an
    id-mapped copy of each shows them to the container as its own, as
    Podman's and crun's do.  Layers owned by 100000 on the host would be
    for whoever holds that id to rewrite, for every later run.  Made here,
    in the host's user namespace, where the mapping's namespace is made.
    """
    if id_map is None or "layers" not in root:
        return None
    user_namespace = libns.user_namespace(*id_map)
    try:
        return [libns.clone_mount(layer, rootfs.LAYER_ATTRIBUTES, user_namespace)
                for layer in root["layers"]]
    except OSError as error:
        raise OSError(error.errno, f"--userns: an id-mapped mount of the layers: {error.strerror}"
                      " (it needs Linux 5.12 and a file system that can, such as ext4, xfs,"
                      " btrfs or tmpfs, not overlayfs: put --cache or --rootfs there)") from None
    finally:
        os.close(user_namespace)

