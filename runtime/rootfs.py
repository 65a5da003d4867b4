"""rootfs.py: the container's root, its mounts and its /dev, then the switch to it.

The steps of the spec's `root` and `mounts`, in the order the runtime takes
them (runc: libcontainer/rootfs_linux.go; crun: src/libcrun/linux.c):

  make_mounts_private()   nothing we mount reaches the host's namespace
                          (or, without a mount namespace of its own, the
                          caller's checked: refuse_the_machine_s_mounts)
  open_bind_sources()     the host's side of each bind mount, opened first
  build_root()            a tmpfs of the host's programs, a directory, or layers
  mount_all()             /proc, /dev, /dev/pts, /dev/shm, /tmp, the volumes
  make_devices()          a few of the host's devices, ptmx, /dev/fd
  switch_root()           pivot_root, the old root detached

Every mount happens in the child's own mount namespace: when it ends, the
kernel takes them all away, and the host's mount table never changes.
(An OCI config.json without one has its mounts made in the caller's, when
that is not the machine's; oci.py's delete detaches them.)
"""
import errno
import os
import stat

import libns
from runtime import cgroups

# Where the root is built: a directory every system has.  The tmpfs mounted
# on it exists only in the child's private mount namespace.
BUILD_DIRECTORY = "/tmp"
# An image's layers, as overlayfs takes them: read-only, and nodev, so that a
# device node a layer holds opens nothing, whatever path reaches it.
LAYER_ATTRIBUTES = libns.MOUNT_ATTR_RDONLY | libns.MOUNT_ATTR_NODEV
# The options of a spec's mount that are flags of mount(2); the others are
# its data, as mount(8) splits them.
# How write_files opens: never through a link, never waiting on a FIFO.
FILE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK
              | os.O_CLOEXEC)
MOUNT_OPTIONS = {"ro": libns.MS_RDONLY, "nosuid": libns.MS_NOSUID, "nodev": libns.MS_NODEV,
                 "noexec": libns.MS_NOEXEC, "rbind": libns.MS_BIND | libns.MS_REC,
                 "bind": libns.MS_BIND, "sync": libns.MS_SYNCHRONOUS,
                 "dirsync": libns.MS_DIRSYNC, "mand": libns.MS_MANDLOCK,
                 "noatime": libns.MS_NOATIME, "nodiratime": libns.MS_NODIRATIME,
                 "relatime": libns.MS_RELATIME, "strictatime": libns.MS_STRICTATIME}
# Options that set no flag: the defaults the flags above change, and a
# mount's propagation, which is private here whatever a config.json asks
# (make_mounts_private): nothing mounted inside may reach the host.
NO_FLAG = {"rw", "suid", "dev", "exec", "async", "atime", "diratime", "norelatime",
           "nostrictatime", "nomand", "private", "rprivate", "slave", "rslave", "shared",
           "rshared", "unbindable", "runbindable"}


def make_mounts_private():
    """Stop mount events from crossing into the host's mount namespace.

    A new mount namespace is a copy of the host's, and a shared mount in it
    still sends every mount made under it back to its peers, the host's:
    MS_PRIVATE on every mount, recursively, cuts them apart.
    """
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)


def refuse_the_machine_s_mounts():
    """Raise OSError unless the caller's mount namespace may take a container's mounts.

    An OCI config.json may leave the mount namespace out: the container then
    has the runtime's, and its root and mounts are made there (as runc
    makes them).  The namespace our ancestors live in is the machine's (or
    a whole container's), whose mounts never change here; so is PID 1's.  A
    namespace made below them for a few processes, as `unshare --mount`
    makes one, is the caller's own, when nothing in it is shared: a mount
    made under a shared one would show in its peers' too.
    """
    ours = os.readlink("/proc/self/ns/mnt")
    try:
        pid_1_s = os.readlink("/proc/1/ns/mnt")
    except PermissionError:
        pid_1_s = None  # a PID 1 more privileged than we are: our ancestors tell
    if pid_1_s == ours or all(theirs == ours for theirs in ancestors_mount_namespaces()):
        raise OSError(errno.EPERM, "no mount namespace: the container's mounts would be made in"
                      " the caller's, where its parents or PID 1 live too, the machine's or a"
                      " container's (add one, or run in a mount namespace of your own:"
                      " unshare --mount)")
    with open("/proc/self/mountinfo") as mountinfo:
        shared = [fields[4] for fields in (line.split(" - ")[0].split() for line in mountinfo)
                  if any(field.startswith("shared:") for field in fields[6:])]
    if shared:
        raise OSError(errno.EPERM, f"no mount namespace: {shared[0]}, in the caller's, is shared:"
                      " a mount made there would show in its peers' too")


def ancestors_mount_namespaces():
    """The mount namespace of our parent, its parent, and so on, as far as we may read them."""
    pid = os.getppid()
    while pid > 0:
        try:
            yield os.readlink(f"/proc/{pid}/ns/mnt")
            with open(f"/proc/{pid}/stat") as stat_file:
                pid = int(stat_file.read().rsplit(")", 1)[1].split()[1])  # its ppid
        except OSError:
            return  # gone, or more privileged than we are


def mounts_at(path):
    """How many mounts are stacked at `path` in our mount namespace (/proc/self/mountinfo)."""
    escaped = os.path.realpath(path)
    for character, octal in (("\\", "\\134"), (" ", "\\040"), ("\t", "\\011"), ("\n", "\\012")):
        escaped = escaped.replace(character, octal)  # as the kernel writes a path there
    with open("/proc/self/mountinfo") as mountinfo:
        return sum(line.split()[4] == escaped for line in mountinfo)


def open_bind_sources(mounts):
    """The host's side of each bind mount, opened before the root is built over /tmp.

    An O_PATH descriptor names the file itself, wherever the path later
    leads: a source under /tmp stays reachable, and the bind mount takes it
    from the descriptor (see mount_all).
    """
    return [os.open(mount["source"], os.O_PATH | os.O_CLOEXEC)
            for mount in mounts if mount["type"] == "bind"]


def build_root(root, layer_trees=None):
    """The spec's `root`: the directory to switch to, made a mount point; returns its path.

    One of: {"path": DIR}, a directory whose writes are its own (--rootfs-rw);
    {"layers": [DIR, ...]}, read-only layers under overlayfs, topmost first
    (--rootfs, --image); {"hostDirectories": [...]}, the host's programs.
    `layer_trees`: the layers as detached mounts already (id-mapped ones).
    """
    if "path" in root:
        return use_rootfs(root["path"])
    if "layers" in root:
        return make_overlay_root(layer_trees or [libns.clone_mount(layer, LAYER_ATTRIBUTES)
                                                 for layer in root["layers"]])
    return make_default_root(root["hostDirectories"])


def make_default_root(host_directories):
    """A fresh tmpfs with read-only bind mounts of the host's programs and /etc."""
    root = BUILD_DIRECTORY
    libns.mount("tmpfs", root, "tmpfs", libns.MS_NOSUID | libns.MS_NODEV, "mode=755")
    for name in host_directories:
        host_path, path = f"/{name}", f"{root}/{name}"
        if os.path.islink(host_path):
            # /bin -> usr/bin on merged-/usr systems: the link, not a copy.
            os.symlink(os.readlink(host_path), path)
        elif os.path.isdir(host_path):
            os.mkdir(path)
            # Read-only, submounts included (/etc/hosts under Docker is one):
            # the container must not change the host's programs and settings.
            libns.bind_mount(host_path, path, read_only=True, nodev=True)
    for name in ("proc", "dev", "tmp"):
        os.mkdir(f"{root}/{name}")
    return root


def use_rootfs(rootfs):
    """--rootfs-rw: an unpacked image as the root, writable: a bind mount of it.

    A bind mount, so that it is a mount point, as pivot_root needs.  nodev:
    a device node in an image (or made inside with mknod) must not open a
    device of the host, such as its disk.
    """
    libns.bind_mount(rootfs, rootfs, nodev=True)
    return rootfs


def make_overlay_root(trees):
    """An image's layers as one read-only tree, under a writable layer of the container's own.

    overlayfs shows the union of the lower directories (the layers, topmost
    first), and sends every write to the upper one: a changed file is first
    copied up whole, a deleted one is hidden by a whiteout there.  The
    upper directory is in a tmpfs of this mount namespace, so what the
    container writes is gone when it ends, and the image, which others may
    run at the same time, is never changed.  The layers come as detached
    mounts (`trees`, libns.clone_mount), made before this tmpfs covered
    BUILD_DIRECTORY, where they may lie; each is put in it, as overlayfs
    takes its layers from this mount namespace only.  `userxattr`: the
    layers mark their opaque directories with user.overlay.* xattrs (see
    image.py).  nodev, as in use_rootfs.
    """
    scratch = BUILD_DIRECTORY
    libns.mount("tmpfs", scratch, "tmpfs", libns.MS_NOSUID | libns.MS_NODEV, "mode=755")
    for name in ("upper", "work", "root", "layers"):
        os.mkdir(f"{scratch}/{name}")
    for number, tree in enumerate(trees):
        os.mkdir(f"{scratch}/layers/{number}")
        libns.move_mount(tree, f"{scratch}/layers/{number}")
        os.close(tree)
    # The options are one page at most (4096 bytes): named from the layers'
    # folder, relative to it, 500 layers take 2 kB, overlayfs's most.
    os.chdir(f"{scratch}/layers")
    lowerdir = ":".join(str(number) for number in range(len(trees)))
    libns.mount("overlay", f"{scratch}/root", "overlay", libns.MS_NODEV,
                f"lowerdir={lowerdir},upperdir=../upper,workdir=../work,userxattr")
    os.chdir("/")
    root = f"{scratch}/root"
    for name in ("proc", "dev", "tmp"):
        os.close(open_mount_point(root, f"/{name}", directory=True, create=True,
                                  what=f"the image's /{name}"))
    return root


def open_mount_point(root, inside, directory, create, what):
    """An O_PATH descriptor of `inside` under `root`, made if missing and `create`.

    The kernel follows a link in a mount's target, and a link in an image
    may point anywhere on the host: a mount on it would land outside the
    image, and a directory made through it would be made on the host.  A
    check of the path first, then a mkdir or mount by the path, could be
    raced by whoever may change the tree meanwhile (the owner of a
    --rootfs-rw directory swaps a directory for a link).  So each part is
    opened from the descriptor of the one before, with O_NOFOLLOW, and a
    missing one made there (mkdirat): no link is ever followed, and the
    mount goes onto the descriptor (see libns.bind_mount_between).
    """
    parts = [part for part in inside.split("/") if part not in ("", ".")]
    if ".." in parts:  # each part opened from the one before would go up out of the image
        raise OSError(errno.EINVAL, f"{what}: {inside}: a path with .. would lead out of the"
                      " image")
    descriptor = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for number, part in enumerate(parts, 1):
            last = number == len(parts)
            try:
                following = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC,
                                    dir_fd=descriptor)
            except FileNotFoundError:
                if not create:
                    raise OSError(errno.ENOENT, f"{what}: {inside} is not in the root to"
                                  " mount on; make it first") from None
                if not last or directory:
                    os.mkdir(part, 0o755, dir_fd=descriptor)
                else:
                    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                     | os.O_CLOEXEC, 0o644, dir_fd=descriptor))
                following = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC,
                                    dir_fd=descriptor)
            if stat.S_ISLNK(os.fstat(following).st_mode):
                link = os.readlink(part, dir_fd=descriptor)
                os.close(following)
                where = "/" + "/".join(parts[:number])
                raise OSError(errno.ELOOP, f"{what}: {where} is a symbolic link (to {link}):"
                              " a mount on it would land outside the image")
            os.close(descriptor)
            descriptor = following
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def mount_all(root, mounts, bind_sources, writable_root, cgroup=None):
    """The spec's `mounts`, in order, under `root`; each bind source's descriptor closed.

    A file system (proc, tmpfs, sysfs, cgroup) goes on its mount point,
    reached without following a link (see open_mount_point): /proc/1/root
    in the container's new /proc is the host's root still.  A missing one
    is made inside an earlier mount of ours (/dev/pts in /dev's tmpfs), or
    in a root whose writes are the container's own, never in a --rootfs-rw
    directory's.  A cgroup mount shows `cgroup`, the container's (see
    cgroups.py).  A bind mount (--volume) goes from descriptor to descriptor.
    """
    sources = iter(bind_sources)
    ours = []
    for mount in mounts:
        destination = mount["destination"]
        flags = sum(MOUNT_OPTIONS.get(option, 0) for option in mount["options"])
        data = ",".join(option for option in mount["options"] if option not in MOUNT_OPTIONS
                        and option not in NO_FLAG)
        if mount["type"] == "bind":
            # Named as the user gave it: HOST:CONTAINER, and :ro.
            what = (f"--volume {mount['source']}:{destination}"
                    f"{':ro' if flags & libns.MS_RDONLY else ''}")
            mount_volume(root, destination, next(sources), flags, not writable_root, what)
            continue
        point = open_mount_point(root, destination, directory=True, what=f"mount {mount['type']}",
                                 create=not writable_root or any(
                                     destination.startswith(f"{place}/") for place in ours))
        try:
            # The descriptor's own path: a link swapped in since it was
            # opened is not followed (as for a bind mount).
            target = f"/proc/self/fd/{point}"
            if mount["type"] == "cgroup":
                # Its trees are made in it by path, once it is checked.
                cgroups.mount_inside(f"{root}{destination}", flags, cgroup)
            elif mount["type"] == "sysfs":
                mount_sysfs(point, flags)
            else:
                libns.mount(mount["source"], target, mount["type"], flags, data)
        except OSError as error:  # named by the path the user gave, not by the descriptor
            raise OSError(error.errno, str(error.strerror).replace(
                target, f"{root}{destination}")) from None
        finally:
            os.close(point)
        ours.append(destination)


def mount_sysfs(point, flags):
    """A sysfs on the open mount point `point`; where the kernel refuses one, the host's /sys,
    bound read-only.

    A sysfs shows the devices of the network namespace that mounts it, and
    only its owner may mount one: an ordinary user with --net host shares
    the host's, which is not theirs.  runc then binds the host's /sys
    instead (libcontainer's mountToRootfs), read-only all the way down.
    """
    try:
        libns.mount("sysfs", f"/proc/self/fd/{point}", "sysfs", flags)
    except PermissionError:
        # From descriptor to descriptor: /proc/self/fd/N, looked up again,
        # would be the directory beneath the new mount, not the mount.
        source = os.open("/sys", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            libns.bind_mount_between(source, point, read_only=True, nodev=True)
        finally:
            os.close(source)


def mount_volume(root, inside, source_fd, flags, create, what):
    """A bind mount of the host's file or directory at `source_fd` onto `inside`."""
    try:
        target_fd = open_mount_point(root, inside, stat.S_ISDIR(os.fstat(source_fd).st_mode),
                                     create, what)
        try:
            libns.bind_mount_between(source_fd, target_fd, read_only=bool(flags & libns.MS_RDONLY),
                                     nodev=bool(flags & libns.MS_NODEV),
                                     nosuid=bool(flags & libns.MS_NOSUID),
                                     noexec=bool(flags & libns.MS_NOEXEC))
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)


def write_files(root, files):
    """The files Docker writes for every container (/etc/hosts, hostname, resolv.conf) in its root.

    Into the container's own writable layer, where the image has an /etc:
    the image's stay as they were.  Each is reached from the descriptor of /etc, and a link, FIFO
    or device of the image's in its place is removed first (O_NOFOLLOW,
    O_NONBLOCK): nothing is written anywhere but in the layer.
    """
    for path, text in files.items():
        directory, name = os.path.split(path)
        try:
            parent = open_mount_point(root, directory, directory=True, create=False,
                                      what=f"the image's {path}")
        except FileNotFoundError:
            continue  # an image without /etc (a static program alone) gets none
        try:
            try:
                file = os.open(name, FILE_FLAGS, 0o644, dir_fd=parent)
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENXIO, errno.EACCES, errno.EPERM):
                    raise OSError(error.errno, f"write the image's {path}: {error.strerror}")
                os.unlink(name, dir_fd=parent)  # not a file: one of the container's own instead
                file = os.open(name, FILE_FLAGS, 0o644, dir_fd=parent)
            try:
                os.write(file, text.encode())
            finally:
                os.close(file)
        finally:
            os.close(parent)
        libns.trace(f"write(\"{path}\", ...) /* {len(text)} bytes, in the container's layer */")


def make_devices(root, devices):
    """The spec's devices in the container's /dev, and the links every /dev has.

    Bind mounts of the host's devices, not mknod(2): a user namespace may not
    create device nodes, and a bind mount works for root too.  /dev/ptmx is
    the container's own devpts instance's, so its terminals are its own.
    Each is made from the descriptor of its directory, never through a link:
    where /dev is the image's own (no tmpfs on it), an image's /dev/null
    could be a link to a file of the host's, which a write would empty.
    """
    dev = f"{root}/dev"
    for device in devices:
        where, name = os.path.split(device["path"])
        parent = open_mount_point(root, where, directory=True, create=True,
                                  what=f"linux.devices {device['path']}")
        try:
            if "major" in device and make_device(parent, name, device):
                continue
        finally:
            os.close(parent)
        if os.path.exists(device["path"]):
            mount_volume(root, device["path"], os.open(device["path"], os.O_PATH | os.O_CLOEXEC),
                         0, True, f"linux.devices {device['path']}")
    for name, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"),
                         ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        try:
            os.symlink(target, f"{dev}/{name}")
        except FileExistsError:  # a root's own /dev, not a tmpfs: made by an earlier run
            if os.readlink(f"{dev}/{name}") != target:
                raise


def make_device(parent, name, device):
    """mknod(2) an OCI linux.devices entry (type, major, minor, fileMode, uid, gid) as `name`
    in the directory `parent`; False where this namespace may not make devices (a user
    namespace's root), to bind instead.

    The mode is the entry's, not the umask's: made with a umask of 0, so that
    no chmod(2) follows, which would go through a link put in its place.
    A node already there of the same kind and number is used as it is (an
    earlier run's, where /dev is the image's own), as runc does; anything
    else there is refused: the container would get it for the device it asked.
    """
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[
        device["type"]]
    number = os.makedev(device["major"], device["minor"]) if kind != stat.S_IFIFO else 0
    umask = os.umask(0)
    try:
        os.mknod(name, kind | device.get("fileMode", 0o666), number, dir_fd=parent)
    except PermissionError:
        return False
    except FileExistsError:
        there = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat.S_IFMT(there.st_mode) == kind and there.st_rdev == number:
            return True
        raise OSError(errno.EEXIST, f"linux.devices {device['path']}: the image has another"
                      f" file there, not {device['type']} {device['major']}:{device['minor']}"
                      ) from None
    except OSError as error:
        raise OSError(error.errno, f"linux.devices {device['path']}: mknod: {error.strerror}"
                      ) from None
    finally:
        os.umask(umask)
    os.chown(name, device.get("uid", 0), device.get("gid", 0), dir_fd=parent,
             follow_symlinks=False)
    libns.trace(f"mknod(\"{device['path']}\", {device['type']} {device['major']}:"
                f"{device['minor']})")
    return True


def switch_root(root, in_the_caller_s_namespace=False):
    """Make `root` the root of this mount namespace, and detach the old one.

    pivot_root(".", ".") puts the old root on top of the new one; the
    umount2 with MNT_DETACH then removes it from the namespace at once.
    After that, no path leads back to the host's files.
    `in_the_caller_s_namespace` (a config.json without a mount namespace):
    chroot(2) instead, as runc then does.  pivot_root would move the root of
    every process of the caller's namespace; chroot changes ours alone, and
    a process with CAP_SYS_CHROOT can leave it: the config asked no more.
    """
    os.chdir(root)
    if in_the_caller_s_namespace:
        os.chroot(".")
        libns.trace('chroot(".")')
    else:
        libns.pivot_root(".", ".")
        libns.umount2(".", libns.MNT_DETACH)
    os.chdir("/")
