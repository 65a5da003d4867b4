"""cgroups.py: how much the container may use, in a cgroup of its own.

Namespaces decide what a process may see; cgroups, how much it may use.  A
cgroup is a directory in the cgroup file system, a limit is a file in it,
and a process joins it when its pid is written to the directory's
cgroup.procs: from then on, it and every child it makes are counted there,
and the kernel refuses (a fork past pids.max), throttles (cpu past its
quota) or kills (memory past its limit, the OOM killer) at the limit.

Two versions of the file system are in use.  cgroup v2, on every current
distribution, is one tree, in which each directory has the files of every
controller its parent enabled for it in cgroup.subtree_control.  cgroup
v1 has one tree per controller (memory, pids, cpu, ...), each with files
of its own names.  The same limits, by each one's names:

  spec (linux.resources)  cgroup v2             cgroup v1
  memory.limit            memory.max            memory/memory.limit_in_bytes
  memory.swap (+memory)   memory.swap.max       memory/memory.memsw.limit_in_bytes
  pids.limit              pids.max              pids/pids.max
  cpu.quota, cpu.period   cpu.max "QUOTA PERIOD"  cpu/cpu.cfs_quota_us, cpu.cfs_period_us

The container's cgroup is made below the tool's own, in every tree it
needs, so that any limit above (a user's session, a CI job) still holds,
and it is named after the tool's pid (containers-do-not-exist.PID): a later
start removes what a tool that was killed left behind.
"""
import errno
import os
import time

import libns

PREFIX = "containers-do-not-exist."
# In a cgroup namespace of someone else's (inside a container), the mounted
# trees begin below where our own cgroup is, and ours is in none of them.
HIDDEN = ("make a cgroup for the limits: this cgroup file system shows only a part of the"
          " tree, without our own cgroup (inside another container?)")
# The files each limit is written to, by version; v1's name their tree.
FILES = {
    "v2": {"memory": "memory.max", "swap": "memory.swap.max", "pids": "pids.max",
           "cpu": "cpu.max", "freeze": "cgroup.freeze", "shares": "cpu.weight",
           "reservation": "memory.low", "cpus": "cpuset.cpus", "mems": "cpuset.mems"},
    "v1": {"memory": "memory/memory.limit_in_bytes", "swap": "memory/memory.memsw.limit_in_bytes",
           "pids": "pids/pids.max", "period": "cpu/cpu.cfs_period_us",
           "quota": "cpu/cpu.cfs_quota_us", "allow": "devices/devices.allow",
           "deny": "devices/devices.deny", "freeze": "freezer/freezer.state",
           "shares": "cpu/cpu.shares", "realtimePeriod": "cpu/cpu.rt_period_us",
           "realtimeRuntime": "cpu/cpu.rt_runtime_us", "cpus": "cpuset/cpuset.cpus",
           "mems": "cpuset/cpuset.mems", "reservation": "memory/memory.soft_limit_in_bytes",
           "swappiness": "memory/memory.swappiness", "kernel": "memory/memory.kmem.limit_in_bytes",
           "kernelTCP": "memory/memory.kmem.tcp.limit_in_bytes",
           "disableOOMKiller": "memory/memory.oom_control"},
}
# What "frozen" and "thawed" are written as, and read back as once every
# process has stopped (or goes on): v1's freezer.state, v2's cgroup.freeze
# (its cgroup.events says "frozen 1" when done).
FREEZE = {"v1": {True: "FROZEN", False: "THAWED"}, "v2": {True: "1", False: "0"}}


def mounts():
    """Where the cgroup trees are: {"v2": (point, root), "v1": {controller: (point, root)}, ...}.

    "v2" is None without a cgroup2 mount; "v1 trees" maps each v1 mount
    point to its controllers (memory; or cpu and cpuacct in one tree).

    From /proc/self/mountinfo, whose root field is the cgroup the mount
    shows at its top (not "/" inside a container of someone else's).  A
    later mount of a tree is the one seen: it hides the earlier (mounted
    again over a new tmpfs, in a cgroup namespace).
    """
    found = {"v2": None, "v1": {}, "v1 trees": {}}
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            separator = fields.index("-")
            fstype, options = fields[separator + 1], fields[separator + 3].split(",")
            if fstype == "cgroup2":
                found["v2"] = (fields[4], fields[3])
            elif fstype == "cgroup":
                controllers = [option for option in options if option not in ("rw", "ro")]
                for controller in controllers:
                    found["v1"][controller] = (fields[4], fields[3])
                found["v1 trees"][fields[4]] = controllers
    return found


def own_cgroups():
    """{"" for v2, or each v1 controller: the tool's own cgroup, as /proc/self/cgroup says it}."""
    cgroups = {}
    with open("/proc/self/cgroup") as own:
        for line in own:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                cgroups[controller] = path
    return cgroups


def _directory(mount, path):
    """The directory of cgroup `path` in the tree mounted at `mount` (point, root)."""
    point, root = mount
    if root != "/" and not (path + "/").startswith(root.rstrip("/") + "/"):
        return None  # the tree shows only a part where our cgroup is not
    return point + path[len(root.rstrip("/")):] if root != "/" else point + path.rstrip("/")


def version_for(controllers):
    """"v2" when cgroup v2 has every controller the limits need, else "v1" if its trees have them.

    A machine may have both: here the v1 trees hold memory, pids and cpu,
    and the v2 tree holds only what no v1 tree took (hugetlb).

    The freezer is a controller in v1, and in every cgroup of v2 (its
    cgroup.freeze): where v1 has it, and v2 nothing else asked for, v1's.
    """
    found, own = mounts(), own_cgroups()
    in_v1 = all(controller in found["v1"] and controller in own for controller in controllers)
    wanted = set(controllers) - {"freezer"}
    directory = None
    if found["v2"] is not None and "" in own:
        directory = _directory(found["v2"], own[""])
        try:
            with open(f"{directory}/cgroup.controllers") as available:
                if wanted <= set(available.read().split()) and (wanted or not in_v1):
                    return "v2"
        except (OSError, TypeError):
            pass
    if in_v1:
        return "v1"
    if found["v2"] is not None and directory is None:
        raise OSError(errno.EOPNOTSUPP, HIDDEN)
    missing = sorted(set(controllers) - set(found["v1"]))
    raise OSError(errno.EOPNOTSUPP, f"this machine's cgroups have no {', '.join(missing)}"
                  " controller, in v2 nor in v1: no limit of it can be set")


def cannot_make(controllers):
    """Why no cgroup with these controllers can be made below ours here; None if one can.

    For the tools that try limits only where they work (bench.py, the
    tests): inside `docker run` without --privileged the cgroup file
    system is read-only, and an ordinary user's cgroups are not theirs.
    """
    try:
        version = version_for(controllers)
    except OSError as error:
        return error.strerror
    found, own = mounts(), own_cgroups()
    if version == "v2":
        parents = [_directory(found["v2"], own[""])]
    else:
        parents = [_directory(found["v1"][name], own[name]) for name in controllers]
    for parent in parents:
        if parent is None or not os.access(parent, os.W_OK):
            return f"{parent}: cgroups cannot be made here (read-only, or not ours)"
    return None


def controllers_for(resources):
    """The controllers the spec's limits need: memory, pids, cpu, cpuset, devices."""
    return sorted(kind for kind in ("memory", "pids", "cpu", "cpuset", "devices")
                  if kind in resources)


class Cgroup:
    """The container's cgroup: one directory in v2, or one in each v1 tree it needs.

    Made with the limits already written, before any process of the
    container joins it (join), so that nothing runs unlimited.  `name` is
    relative to the tool's own cgroup (a plain name: below it), or, as an
    OCI cgroupsPath may be, absolute: from the top of each tree, as this
    file system shows it.  `freezer`: in the freezer too, for pause.
    """

    def __init__(self, name, resources, freezer=False):
        self.resources = resources
        found, own = mounts(), own_cgroups()
        has_freezer = "freezer" in found["v1"] or found["v2"] is not None
        controllers = controllers_for(resources) + (["freezer"] if freezer and has_freezer
                                                    else [])
        self.version = version_for(controllers)
        by_tree = {"": found["v2"]} if self.version == "v2" else {
            controller: found["v1"][controller] for controller in controllers}
        own_paths = {tree: own[tree] for tree in by_tree}
        self.parents = {tree: _directory(mount, own_paths[tree])
                        for tree, mount in by_tree.items()}
        if None in self.parents.values():
            raise OSError(errno.EOPNOTSUPP, HIDDEN)
        # v1's trees by the controllers they hold ("cpu,cpuacct"), for mount_inside.
        self.trees = sorted({",".join(found["v1 trees"][found["v1"][controller][0]])
                             for controller in controllers}) if self.version == "v1" else []
        # Absolute: from the top of the tree as this file system shows it
        # (its mount point), as the spec says; relative: below our own.
        self.directories = {
            tree: mount[0].rstrip("/") + name if name.startswith("/") else
            _directory(mount, f"{own_paths[tree].rstrip('/')}/{name}")
            for tree, mount in by_tree.items()}
        if None in self.directories.values():
            raise OSError(errno.EOPNOTSUPP, f"{name}: not in the part of the cgroup tree this"
                          " file system shows")
        remove_left_behind(self.parents.values())
        made = []
        try:
            for directory in self.directories.values():
                made += make_directories(directory, controllers)
            self.write_limits()
        except BaseException as error:
            for directory in reversed(made):
                os.rmdir(directory)
            if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM,
                                                              errno.EROFS):
                raise OSError(error.errno, f"make a cgroup for the limits: {error.strerror}"
                              f" ({refusal(self.version)})") from None
            raise

    @classmethod
    def of(cls, directories, resources):
        """The cgroup a container has already (by its directories), for new limits (update)."""
        cgroup = cls.__new__(cls)
        cgroup.directories, cgroup.resources = directories, resources
        cgroup.version = "v2" if "" in directories else "v1"
        return cgroup

    def path(self, name):
        """The file of a limit, by its name in FILES."""
        if name not in FILES[self.version]:
            raise OSError(errno.EOPNOTSUPP, f"{name}: cgroup {self.version} has no such limit")
        file = FILES[self.version][name]
        if self.version == "v2":
            return f"{self.directories['']}/{file}"
        controller, _, file = file.partition("/")
        if controller not in self.directories:
            raise OSError(errno.EOPNOTSUPP, f"this cgroup is not in the {controller} tree: a"
                          " limit it was made with can change, none be added")
        return f"{self.directories[controller]}/{file}"

    def write(self, name, value):
        path = self.path(name)
        try:
            with open(path, "w") as limit:
                limit.write(value)
        except FileNotFoundError:
            raise OSError(errno.EOPNOTSUPP, f"{path}: this kernel's cgroup {self.version} has no"
                          " such limit") from None
        except OSError as error:
            raise OSError(error.errno, f"write {value} to {path}: {error.strerror}") from None
        libns.trace(f"write(\"{path}\", \"{value}\")")

    def write_limits(self):
        """Each limit of the spec, in the files of this version."""
        memory, pids, cpu, cpuset = (self.resources.get(kind)
                                     for kind in ("memory", "pids", "cpu", "cpuset"))
        v2 = self.version == "v2"
        for name in ("cpus", "mems"):
            if cpuset and name in cpuset:
                self.write(name, cpuset[name])
        if memory:
            swap_first = False
            if "swap" in memory and not v2:
                # v1 keeps memory <= memory+swap at every write: a limit
                # above the present memsw goes in after the new memsw.
                present = self.path("swap")
                swap_first = os.path.exists(present) and (memory["swap"] < 0 or memory.get(
                    "limit", 0) > int(_read(present)))
            if swap_first:
                self.write("swap", str(memory["swap"]))
            if "limit" in memory:
                self.write("memory", unlimited(memory["limit"], v2))
            for name in ("reservation", "swappiness", "kernel", "kernelTCP"):
                if name in memory:
                    self.write(name, str(memory[name]))
            if memory.get("disableOOMKiller"):
                self.write("disableOOMKiller", "1")
            if "swap" in memory and not swap_first:
                # OCI's swap is memory and swap together, as v1's memsw; v2
                # counts the swap alone.
                swap = memory["swap"]
                if v2:
                    self.write("swap", "max" if swap < 0 else str(swap - memory["limit"]))
                else:
                    self.write("swap", str(swap))
        if pids:
            self.write("pids", "max" if pids["limit"] < 0 else str(pids["limit"]))
        if cpu and "quota" in cpu:
            if v2:
                self.write("cpu", f"{unlimited(cpu['quota'], v2)} {cpu['period']}")
            else:
                self.write("period", str(cpu["period"]))
                self.write("quota", str(cpu["quota"]))
        if cpu and "shares" in cpu:
            # v2's weight is 1 to 10000, v1's shares 2 to 262144 (runc's map).
            shares = min(max(cpu["shares"], 2), 262144)
            self.write("shares", str(1 + (shares - 2) * 9999 // 262142) if v2 else str(shares))
        for name in ("realtimePeriod", "realtimeRuntime"):
            if cpu and name in cpu:
                self.write(name, str(cpu[name]))
        for rule in self.resources.get("devices", []):
            self.write("allow" if rule["allow"] else "deny", device_rule(rule))

    def join(self, pid):
        """Put process `pid` in the cgroup, in every tree: it and all it starts are counted here."""
        for directory in self.directories.values():
            with open(f"{directory}/cgroup.procs", "w") as procs:
                procs.write(str(pid))
            libns.trace(f"write(\"{directory}/cgroup.procs\", \"{pid}\")")

    def freeze(self, frozen):
        freeze(self.directories, frozen)

    def oom_kills(self):
        """How many processes the OOM killer killed here, for the memory limit."""
        if "memory" not in self.resources:
            return 0
        events = (f"{self.directories['']}/memory.events" if self.version == "v2" else
                  f"{self.directories['memory']}/memory.oom_control")
        with open(events) as counters:
            values = dict(line.split() for line in counters)
        return int(values.get("oom_kill", 0))

    def remove(self):
        """Remove the directories, once the last process has left them (it may take a moment)."""
        for directory in self.directories.values():
            remove_cgroup(directory)


def freeze(directories, frozen=True):
    """Stop every process of the cgroup where it is (frozen), or let them go on (not).

    `directories`: a Cgroup's, {"freezer": ...} in v1 or {"": ...} in v2.
    Freezing takes a moment: each process stops once it is back from the
    kernel, so the state is read until it says so.  A frozen process is not
    told (no signal): it cannot catch it, nor fork past it, nor exit.
    """
    version = "v2" if "" in directories else "v1"
    if version == "v1" and "freezer" not in directories:
        raise OSError(errno.EOPNOTSUPP, "pause: this container has no cgroup in the freezer"
                      " tree")
    file = FILES[version]["freeze"].rpartition("/")[2]
    path = f"{directories.get('freezer') or directories['']}/{file}"
    with open(path, "w") as state:
        state.write(FREEZE[version][frozen])
    libns.trace(f"write(\"{path}\", \"{FREEZE[version][frozen]}\")")
    for _ in range(1000):
        if is_frozen(directories) == frozen:
            return
        time.sleep(0.001)
    if frozen:  # half frozen is neither: let them all go on again, as runc does
        with open(path, "w") as state:
            state.write(FREEZE[version][False])
    raise OSError(errno.EBUSY, f"{path}: the cgroup is not {'frozen' if frozen else 'thawed'}"
                  " after 1 s")


def is_frozen(directories):
    """Whether the cgroup's processes are all stopped by its freezer (v1: FROZEN, not FREEZING)."""
    try:
        if "" in directories:
            with open(f"{directories['']}/cgroup.events") as events:
                return dict(line.split() for line in events).get("frozen") == "1"
        with open(f"{directories['freezer']}/freezer.state") as state:
            return state.read().strip() == "FROZEN"
    except (KeyError, FileNotFoundError):
        return False  # no freezer, or the cgroup is gone


def unlimited(value, v2):
    """-1, "no limit", as each version writes it: v2's "max", v1's -1."""
    return "max" if v2 and value < 0 else str(value)


def _read(path):
    with open(path) as file:
        return file.read().strip()


def make_directories(directory, controllers):
    """mkdir the cgroup, and the folders above it that are missing; those made, top first.

    In v2, each folder gives the one below it the controllers first
    (enable_controllers).  A cgroup that exists already is refused: its
    limits and processes are someone else's.
    """
    missing = []
    while not os.path.isdir(directory):
        missing.insert(0, directory)
        directory = os.path.dirname(directory)
    if not missing:
        raise OSError(errno.EEXIST, f"{directory}: this cgroup exists already (a container's"
                      " cgroup is its own)")
    made = []
    try:
        for folder in missing:
            parent = os.path.dirname(folder)
            v1 = not os.path.exists(f"{parent}/cgroup.subtree_control")
            if not v1:
                enable_controllers(parent, [name for name in controllers if name != "freezer"])
            os.mkdir(folder)
            made.append(folder)
            libns.trace(f"mkdir(\"{folder}\", 0755)")
            # A new v1 cpuset has no cpus and no memory nodes: nothing may
            # join it, nor a cpuset below it take any.  Its parent's, then.
            # (v2's empty cpuset.cpus means the parent's already.)
            for name in ("cpuset.cpus", "cpuset.mems"):
                path = f"{folder}/{name}"
                if v1 and os.path.exists(path) and not _read(path):
                    with open(path, "w") as file:
                        file.write(_read(f"{parent}/{name}"))
    except OSError:
        for folder in reversed(made):
            os.rmdir(folder)
        raise
    return made


def device_rule(rule):
    """A device rule of the spec as v1's devices.allow and devices.deny take it: "c 1:3 rwm".

    The device cgroup is what keeps root inside from mknod'ing the host's
    disk in its own /dev and opening it: every device but those allowed
    is refused, whatever the file system.
    """
    kind = rule.get("type", "a")
    if kind == "a":
        return "a"
    major, minor = (str(rule[key]) if rule.get(key, -1) not in (None, -1) else "*"
                    for key in ("major", "minor"))
    return f"{kind} {major}:{minor} {rule.get('access') or 'rwm'}"


def remove_cgroup(directory):
    """rmdir a cgroup whose processes have all ended; they leave it as the kernel reaps them."""
    for _ in range(100):
        try:
            os.rmdir(directory)
            libns.trace(f"rmdir(\"{directory}\")")
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY:
                raise
        time.sleep(0.01)


def remove_left_behind(parents):
    """Remove the cgroups of tools that were killed before they could: empty, their tool gone."""
    for parent in parents:
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            pid = name[len(PREFIX):].split(".")[0]  # PID, or PID.tool (enable_controllers)
            if not name.startswith(PREFIX) or not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
                continue
            try:
                with open(f"{parent}/{name}/cgroup.procs") as procs:
                    if procs.read().strip():
                        continue
                os.rmdir(f"{parent}/{name}")
            except OSError:
                pass  # another tool's cleanup came first, or it is not ours to remove


def enable_controllers(parent, controllers):
    """cgroup v2: let the cgroups below `parent` have the controllers' files.

    The "no internal processes" rule: a cgroup other than the root may
    give controllers to its children only while no process is in it
    itself (EBUSY).  A shell's cgroup (a session's scope) has the shell in
    it; a cgroup of the tool's own has only the tool, which then moves
    itself to a leaf below, as systemd puts a service's processes in one.
    """
    with open(f"{parent}/cgroup.subtree_control") as enabled:
        missing = [name for name in controllers if name not in enabled.read().split()]
    if not missing:
        return
    change = " ".join(f"+{name}" for name in missing)
    try:
        with open(f"{parent}/cgroup.subtree_control", "w") as subtree:
            subtree.write(change)
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise OSError(error.errno, f"write {change} to {parent}/cgroup.subtree_control:"
                          f" {error.strerror} ({refusal('v2')})") from None
        with open(f"{parent}/cgroup.procs") as procs:
            others = [pid for pid in procs.read().split() if pid != str(os.getpid())]
        if others:
            raise OSError(errno.EBUSY, f"cgroup v2 gives controllers only to a cgroup with no"
                          f" process in it, and {parent} has {len(others)} besides this tool"
                          " (run it in a cgroup of its own: systemd-run --scope -p Delegate=yes"
                          " python3 container.py ...)") from None
        leaf = f"{parent}/{PREFIX}{os.getpid()}.tool"
        os.makedirs(leaf, exist_ok=True)
        with open(f"{leaf}/cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))
        with open(f"{parent}/cgroup.subtree_control", "w") as subtree:
            subtree.write(change)
    libns.trace(f"write(\"{parent}/cgroup.subtree_control\", \"{change}\")")


def refusal(version):
    """What to do when the cgroup may not be made: whose cgroups these are."""
    if os.geteuid() == 0:
        return "these cgroups are not ours to change; run where root owns them"
    if version == "v1":
        return "cgroup v1 delegates nothing to an ordinary user: limits need root here"
    return ("your cgroup is not delegated to you: run it in a scope of your own,"
            " systemd-run --user --scope -p Delegate=yes python3 container.py ...")


def mount_inside(target, flags, cgroup):
    """The container's cgroups at `target` (/sys/fs/cgroup), as runc mounts them.

    Inside the cgroup namespace, a cgroup file system shows the
    container's cgroup as its root: its own limits, and nobody else's.  v2
    is one mount; v1 a tmpfs, with a mount of each tree in it, named as
    the host names them (memory, pids, cpu or cpu,cpuacct), then the tmpfs
    made read-only too.  `cgroup` is the Cgroup the parent made: in here,
    the cgroup namespace hides where the host's trees begin.  Without a
    cgroup namespace (Docker's default on v1), a cgroup file system would
    show the host's whole tree: the container's own directories are bound
    there instead, as runc binds them.
    """
    namespaced = all(path == "/" for path in own_cgroups().values())
    read_only = bool(flags & libns.MS_RDONLY)
    if cgroup.version == "v2":
        if namespaced:
            libns.mount("cgroup", target, "cgroup2", flags)
        else:
            libns.bind_mount(cgroup.directories[""], target, read_only=read_only, nodev=True)
        return
    libns.mount("tmpfs", target, "tmpfs", flags & ~libns.MS_RDONLY, "mode=755")
    for controllers in cgroup.trees:
        os.mkdir(f"{target}/{controllers}")
        if namespaced:
            libns.mount("cgroup", f"{target}/{controllers}", "cgroup", flags, controllers)
        else:
            directory = next(cgroup.directories[name] for name in controllers.split(",")
                             if name in cgroup.directories)
            libns.bind_mount(directory, f"{target}/{controllers}", read_only=read_only,
                             nodev=True)
    libns.mount(None, target, None, libns.MS_REMOUNT | libns.MS_BIND | flags)
