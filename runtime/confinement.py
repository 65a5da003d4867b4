"""confinement.py: what root inside may no longer do, as Docker confines it.

Namespaces give the container its own copy of some kernel state; the rest
of the kernel (its clock, its modules, its keyrings, the machine's /proc
files) is still one for all, and root inside could change it.  Each layer
here stops a kind of escape on its own, as Docker's do; the spec says
which (linux.seccomp, process.capabilities, process.noNewPrivileges,
linux.maskedPaths, linux.readonlyPaths), and `python3 escapes.py` inside
shows what each one stops.
"""
import os
import stat

import libns
from runtime import rootfs, seccomp


def hide_paths(root, masked_paths, read_only_paths):
    """The spec's masked and read-only paths, under the container's root.

    /proc/kcore is the machine's memory, /proc/keys the kernel's keyrings,
    /proc/sysrq-trigger reboots it and /proc/sys tunes it: none of them is
    a namespace's.  Masked: /dev/null bound over a file, an empty read-only
    tmpfs over a directory.  Read-only: bound on itself, then made read-only.
    Each is reached without following a link (rootfs.open_mount_point): an
    image's link would take the mount to a path outside it.  A path the
    root has not is left alone.
    """
    for path, masked in [(path, True) for path in masked_paths] + [
            (path, False) for path in read_only_paths]:
        try:
            target = rootfs.open_mount_point(root, path, directory=False, create=False,
                                             what=f"linux.{'masked' if masked else 'readonly'}"
                                                  f"Paths {path}")
        except FileNotFoundError:
            continue
        try:
            if not masked:
                libns.bind_mount_between(target, target, read_only=True)
            elif stat.S_ISDIR(os.fstat(target).st_mode):
                libns.mount("tmpfs", f"/proc/self/fd/{target}", "tmpfs", libns.MS_RDONLY,
                            "size=0")
            else:
                null = os.open("/dev/null", os.O_PATH | os.O_CLOEXEC)
                try:
                    libns.bind_mount_between(null, target)
                finally:
                    os.close(null)
        finally:
            os.close(target)


def confine(process, profile, become=None):
    """Cut what root inside may do to the kernel, for PID 1 and all it starts.

    The seccomp filter (`profile`, the spec's linux.seccomp): every call
    Docker's profile does not name, those that reach kernel state no
    namespace covers and every call newer than the profile, whatever the
    capabilities.  Capabilities: what root may do at all (load a module,
    set the clock, open files by handle); a spec without them
    (--privileged) keeps them all.  no_new_privs (--security-opt
    no-new-privileges): that a setuid or setgid program gains nothing.
    Without no_new_privs, loading a filter takes CAP_SYS_ADMIN, so the
    filter comes before the capabilities are cut, as runc orders it; the
    filter lets the calls that cut them through.  `become()`, when given,
    changes the ids once the bounding set is cut (see
    libns.keep_only_capabilities).
    """
    if process["noNewPrivileges"]:
        libns.set_no_new_privs()
    if profile is not None:
        libns.load_seccomp_filter(seccomp.compile(profile),
                                  seccomp.describe(profile) if libns.tracing else ())
    if "capabilities" in process:
        sets = {kind: {name[len("CAP_"):] for name in names}
                for kind, names in process["capabilities"].items()}
        libns.keep_only_capabilities(sets.pop("bounding", set()), become, sets)
    elif become is not None:
        become()
