#!/usr/bin/env python3
"""oci.py: an OCI runtime with runc's command line: a bundle's config.json in, a container out.

What Docker and Podman call to start a container, runc or crun, is a
program like this one: it reads the bundle's config.json (the OCI runtime
spec, the format container.py --spec prints), and turns it into the same
syscalls as the stages, through runtime/steps.py.  A container's life is
five calls, each a process of its own that ends at once:

  create --bundle DIR ID   clone() the container's PID 1 in its namespaces,
                           build its root, confine it; it waits, blocked
                           on its exec.fifo, for start.  --pid-file says
                           its pid
  start ID                 one byte into the fifo: PID 1 execs the command
                           itself, and nothing of Python stays inside
  state ID                 JSON: id, pid, status (created, running, stopped)
  kill [--all] ID [SIGNAL] a signal to PID 1 (default TERM); --all: to
                           every process of the container's cgroup
  ps [--format json] ID    the pids of the container's processes
  pause ID, resume ID      freeze every process of it where it is, thaw them
  update --resources F ID  new limits (F: linux.resources as JSON, - for stdin)
  exec --process F ID      a second process in it (F: an OCI process)
  delete [--force] ID      forget a stopped container (--force: kill it)

`run --bundle DIR ID` is create and start, waiting for the command and
exiting with its status.  `--version`, `features` (what this runtime
applies) and `list` tell about the runtime.  The global options come
before the command: --root DIR (the state, default /run/oci.py),
--log FILE and --log-format text|json (where clients read errors), -v
(the trace of every call, as the stages' -v).
"""
import datetime
import errno
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

import enter
import libns
from runtime import cgroups, confinement, seccomp, steps, terminal

VERSION = "0.1"
OCI_VERSION = "1.0.2"
# runc's: an id names a directory of the state, and nothing else.
ID = re.compile(r"[\w+.-]{1,1024}\Z", re.ASCII)
FIFO = "exec.fifo"
KILL_SECONDS = 10  # how long delete --force waits for a killed PID 1 to end
STATE = "state.json"
# The hooks of config.json, at their points of the lifecycle: four in the
# runtime's namespaces, by the call that reaches the point; two in the
# container's, by its PID 1 (as runc's init runs them).
HOOKS = {"prestart": "create, once the namespaces are made, before the container's setup",
         "createRuntime": "create, just after the prestart hooks",
         "createContainer": "create, in the container, its mounts made, before pivot_root",
         "startContainer": "start, in the container, confined, before the command's exec",
         "poststart": "start, once the command has been let go",
         "poststop": "delete, once the container is gone"}
# The devices every container has, whatever config.json lists (runc's), and
# the device cgroup's rules that let them open, after the spec's own: its
# terminals too (/dev/pts/*, /dev/ptmx), and mknod (m) of any, not opening it.
DEFAULT_DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                   "/dev/tty"]
DEFAULT_DEVICE_RULES = [{"allow": True, "type": kind, "major": major, "minor": minor,
                         "access": access} for kind, major, minor, access in (
    ("c", None, None, "m"), ("b", None, None, "m"), ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"),
    ("c", 1, 7, "rwm"), ("c", 1, 8, "rwm"), ("c", 1, 9, "rwm"), ("c", 5, 0, "rwm"),
    ("c", 136, None, "rwm"), ("c", 5, 2, "rwm"))]


class Refusal(Exception):
    """One line for the user, and status 125 (or `status`)."""

    def __init__(self, message, status=125):
        super().__init__(message)
        self.status = status


# --- the state directory: ROOT/ID/ -------------------------------------------------

def state_root(given):
    """--root, or /run/oci.py (root) or $XDG_RUNTIME_DIR/oci.py; made ours alone if missing.

    Others may not write in it (a state.json of theirs would have us kill
    their pid): it must be ours, and writable by us only.
    """
    root = given or ("/run/oci.py" if os.geteuid() == 0 else
                     os.path.join(os.environ.get("XDG_RUNTIME_DIR") or "/tmp", "oci.py"))
    os.makedirs(root, 0o700, exist_ok=True)  # Docker's shim names one in a folder not made yet
    status = os.lstat(root)
    if status.st_uid != os.geteuid() or status.st_mode & 0o022 or not os.path.isdir(root):
        raise Refusal(f"--root {root}: not a directory of yours that only you may write")
    return root


def container_directory(root, container_id):
    if not ID.match(container_id) or container_id in (".", ".."):
        raise Refusal(f"{container_id!r}: an id is letters, digits, _, +, - and . only")
    return os.path.join(root, container_id)


def write_state(directory, state):
    """state.json, all or nothing: a new file renamed over the old, so no reader sees half."""
    temporary = os.path.join(directory, f".{STATE}.{os.getpid()}")
    with open(temporary, "w") as file:
        json.dump(state, file)
    os.replace(temporary, os.path.join(directory, STATE))


def read_state(root, container_id):
    directory = container_directory(root, container_id)
    try:
        with open(os.path.join(directory, STATE)) as file:
            state = json.load(file)
    except FileNotFoundError:
        raise Refusal(f"container {container_id} does not exist") from None
    state["status"] = status_of(directory, state)
    return directory, state


def start_time(pid):
    """The process's start time (proc(5), field 22), and whether it is a zombie; or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[19]), fields[0] == b"Z"


def status_of(directory, state):
    """created (PID 1 waits on the fifo), running, paused (frozen), or stopped (gone, a zombie)."""
    found = start_time(state["pid"])
    if found is None or found[0] != state["start time"] or found[1]:
        return "stopped"
    if os.path.exists(os.path.join(directory, FIFO)):
        return "created"
    return "paused" if state["cgroups"] and cgroups.is_frozen(state["cgroups"]) else "running"


def public(state):
    """The state as runc's `state` prints it: the OCI fields, and runc's own few."""
    shown = {key: state[key] for key in ("ociVersion", "id", "pid", "status", "bundle",
                                         "rootfs", "created", "owner", "annotations")}
    if state["status"] == "stopped":
        shown["pid"] = 0
    return shown


# --- config.json to the spec steps.py takes ---------------------------------------------

# What each field of config.json is, as the runtime spec has it, checked
# once before any is read: a wrong type is one line naming its field, not
# a Python error later, nor a string taken as a list of its letters.  A
# list is of one shape, "*" is any key; a key ending in ! must be there;
# null is the field left out; a range is a number within it.  Fields not
# named here oci.py does not read: the spec's extensions, and the fields
# newer than spec 1.0.2 (domainname, personality, ioPriority, ...).
NUMBER = range(-(1 << 63), 1 << 64)  # Go's int64 and uint64
ID_NUMBER = range(0, (1 << 32) - 1)  # uid_t and gid_t, and not -1
DEVICE_NUMBER = range(0, 1 << 32)  # a major or minor, as makedev(3) takes them
MAPPING = {"containerID!": ID_NUMBER, "hostID!": ID_NUMBER, "size!": range(1, 1 << 32)}
PROCESS = {
    "terminal": bool, "consoleSize": {"height": NUMBER, "width": NUMBER}, "cwd!": str,
    "user": {"uid": ID_NUMBER, "gid": ID_NUMBER, "umask": range(0, 0o1000),
             "additionalGids": [ID_NUMBER], "username": str},
    "args!": [str], "env": [str], "noNewPrivileges": bool, "oomScoreAdj": range(-1000, 1001),
    "capabilities": {kind: [str] for kind in ("bounding", "effective", "permitted",
                                               "inheritable", "ambient")},
    "rlimits": [{"type!": str, "soft!": NUMBER, "hard!": NUMBER}],
    "apparmorProfile": str, "selinuxLabel": str}
RESOURCES = {
    "memory": {**{key: NUMBER for key in ("limit", "reservation", "swap", "kernel", "kernelTCP",
                                       "swappiness")}, "disableOOMKiller": bool},
    "pids": {"limit": NUMBER},
    "cpu": {**{key: NUMBER for key in ("shares", "quota", "period", "realtimeRuntime",
                                       "realtimePeriod")}, "cpus": str, "mems": str},
    "devices": [{"allow!": bool, "type": str, "major": range(-1, 1 << 32),
                 "minor": range(-1, 1 << 32), "access": str}]}  # -1: any
SECCOMP = {
    "defaultAction!": str, "defaultErrnoRet": range(0, 4096), "architectures": [str],
    "flags": [str], "listenerPath": str,
    "syscalls": [{"names!": [str], "action!": str, "errnoRet": range(0, 4096),
                  "args": [{"index!": range(0, 6), "value!": range(0, 1 << 64),
                            "valueTwo": range(0, 1 << 64), "op!": str}]}]}
CONFIG = {
    "ociVersion!": str, "process!": PROCESS, "root!": {"path!": str, "readonly": bool},
    "hostname": str, "annotations": {"*": str},
    "mounts": [{"destination!": str, "type": str, "source": str, "options": [str]}],
    "hooks": {"*": [{"path!": str, "args": [str], "env": [str], "timeout": range(1, 1 << 31)}]},
    "linux": {
        "namespaces": [{"type!": str, "path": str}],
        "uidMappings": [MAPPING], "gidMappings": [MAPPING],
        "devices": [{"path!": str, "type!": str, "major": DEVICE_NUMBER,
                     "minor": DEVICE_NUMBER,
                     "fileMode": range(0, 0o10000), "uid": ID_NUMBER, "gid": ID_NUMBER}],
        "cgroupsPath": str, "resources": RESOURCES, "sysctl": {"*": str}, "seccomp": SECCOMP,
        "maskedPaths": [str], "readonlyPaths": [str], "mountLabel": str,
        "rootfsPropagation": str}}


def checked(value, shape, where):
    """`value` if it has `shape` (see CONFIG), its nulls left out; else Refusal naming `where`."""
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise Refusal(f"{where} {short(value)}: not a list")
        return [checked(item, shape[0], f"{where}[{number}]")
                for number, item in enumerate(value)]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise Refusal(f"{where} {short(value)}: not an object")
        if "*" in shape:
            return {checked(key, str, f"{where} key"): checked(item, shape["*"],
                                                              f"{where}.{key}".lstrip("."))
                    for key, item in value.items() if item is not None}
        found = {key: item for key, item in value.items() if item is not None}
        for key, inner in shape.items():
            name = key.rstrip("!")
            field = f"{where}.{name}".lstrip(".")
            if name in found:
                found[name] = checked(found[name], inner, field)
            elif key.endswith("!"):
                raise Refusal(f"{field}: missing, and the runtime spec asks for it")
        return found
    if isinstance(shape, range):
        if type(value) is not int or value not in shape:
            raise Refusal(f"{where} {short(value)}: not a whole number from " + (
                "-2^63 to 2^64 - 1" if shape == NUMBER else f"{shape.start} to {shape.stop - 1}"))
    elif type(value) is not shape:
        raise Refusal(f"{where} {short(value)}: not "
                      + {str: "a string", bool: "true or false"}[shape])
    elif shape is str and "\0" in value:
        raise Refusal(f"{where} {short(value)}: a NUL byte in it, which the kernel would"
                      " take as its end")
    elif shape is str:
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate, \\ud800 in JSON: no UTF-8 has it
            raise Refusal(f"{where} {short(value)}: not text (a lone surrogate)") from None
    return value


def short(value):
    """A value as JSON has it, cut short: for a line that says what was wrong."""
    said = json.dumps(value)
    return said if len(said) <= 40 else said[:37] + "..."


def named(text):
    """A path or name as given, if it prints as one short line; else short()."""
    return text if text.isprintable() and len(text) <= 80 else short(text)


def inside(path, what):
    """An absolute path without .., inside the container, with no . nor // in it."""
    if not path.startswith("/") or ".." in path.split("/"):
        raise Refusal(f"{what} {named(path)}: not an absolute path without ..")
    return "/" + "/".join(part for part in path.split("/") if part not in ("", "."))


def loaded(file):
    """json.load(file); nested deeper than Python's stack goes, ValueError (not JSON of ours)."""
    try:
        return json.load(file)
    except RecursionError:
        raise ValueError("nested too deep") from None


def spec_of(bundle):
    """The bundle's config.json, checked, as runtime/steps.py's spec."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path) as file:
            config = loaded(file)
    except FileNotFoundError:
        raise Refusal(f"--bundle {bundle}: no config.json in it") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise Refusal(f"{path}: not JSON ({error})") from None
    except OSError as error:
        raise Refusal(f"{path}: {error.strerror}") from None
    if not isinstance(config, dict):
        raise Refusal(f"{path}: not a config.json of the OCI runtime spec (not an object)")
    try:
        return _spec_of(checked(config, CONFIG, ""), bundle)
    except (KeyError, TypeError, AttributeError) as error:
        raise Refusal(f"{path}: not a config.json of the OCI runtime spec ({type(error).__name__}:"
                      f" {error})") from None


def _spec_of(config, bundle):
    version = config["ociVersion"]
    if not re.match(r"1\.\d+\.\d+(-[\w.-]+)?(\+[\w.-]+)?\Z", version):
        raise Refusal(f"ociVersion {version!r}: not a version 1.x.y of the runtime spec")
    process, linux = config["process"], config.get("linux", {})
    root = os.path.join(bundle, config["root"]["path"])
    if not config["root"]["path"] or not os.path.isdir(root):
        raise Refusal(f"root.path {named(config['root']['path'])}: no such directory in the"
                      " bundle")
    args = checked_process(process, "process")
    namespaces, joined = [], []
    for namespace in linux.get("namespaces", []):
        kind = namespace["type"]
        if kind not in steps.NAMESPACE_FILES:
            raise Refusal(f"linux.namespaces: no namespace {kind!r}")
        if any(kind == other["type"] for other in namespaces + joined):
            raise Refusal(f"linux.namespaces: {kind} is there twice")
        if namespace.get("path"):
            joined.append(checked_namespace(kind, namespace["path"]))
        else:
            namespaces.append({"type": kind})
    # None: the container has the runtime's mount namespace, where its
    # mounts are made (and delete detaches them), if it is not the machine's.
    in_the_caller_s = not any(namespace["type"] == "mount" for namespace in namespaces + joined)
    if in_the_caller_s:
        try:
            steps.rootfs.refuse_the_machine_s_mounts()
        except OSError as error:
            raise Refusal(f"linux.namespaces: {error.strerror}") from None
    mounts = []
    for mount in config.get("mounts", []):
        options = list(mount.get("options", []))
        kind = "bind" if {"bind", "rbind"} & set(options) else mount.get("type")
        destination = inside(mount["destination"], "mount on")
        if destination == "/":
            # What a mount there would cover is root.path itself, and what it
            # made in it (/dev's nodes) would land in the mount's source.
            raise Refusal(f"mount on {named(mount['destination'])}: the container's root is"
                          " root.path, not a mount")
        if not kind or kind == "bind" and not mount.get("source"):
            raise Refusal(f"mount on {named(destination)}: no "
                          + ("source to bind" if kind else "type of file system"))
        source = mount.get("source", kind)
        if kind == "bind":
            source = os.path.join(bundle, source)
        mounts.append({"destination": destination, "type": kind, "source": source,
                       "options": options})
    hooks = config.get("hooks", {})
    for point, entries in hooks.items():
        if point not in HOOKS:
            raise Refusal(f"hooks.{point}: not run by oci.py (it runs {', '.join(HOOKS)})")
        for hook in entries:
            if not hook["path"].startswith("/"):
                raise Refusal(f"hooks.{point}: {named(hook['path'])}: not an absolute path")
            checked_environment(hook.get("env", []), f"hooks.{point}")
    profile = linux.get("seccomp")
    if profile is not None:
        for field in ("flags", "listenerPath"):
            if profile.get(field):
                raise Refusal(f"linux.seccomp.{field}: not applied by oci.py")
        try:  # here, not in the child: a profile the kernel cannot take makes nothing
            seccomp.compile(profile)
        except ValueError as error:
            raise Refusal(f"linux.{error}") from None
    resources = resources_of(linux.get("resources") or {})
    cgroups_path = linux.get("cgroupsPath") or ""
    if ".." in cgroups_path.split("/"):
        raise Refusal(f"linux.cgroupsPath {named(cgroups_path)}: a path in the cgroup tree,"
                      " without ..")
    devices = [{"path": path} for path in DEFAULT_DEVICES]
    for device in linux.get("devices", []):
        path = inside(device["path"], "linux.devices")
        if not path.startswith("/dev/") or device["type"] not in ("c", "b", "u", "p"):
            raise Refusal(f"linux.devices {named(device['path'])}: a device is c, b, u or p,"
                          " under /dev")
        devices = [known for known in devices if known["path"] != path] + [
            {**device, "path": path, "major": device.get("major", 0),
             "minor": device.get("minor", 0)}]
    # Security settings this machine cannot apply are refused, never ignored.
    for field, value in (("process.apparmorProfile", process.get("apparmorProfile")),
                         ("process.selinuxLabel", process.get("selinuxLabel")),
                         ("linux.mountLabel", linux.get("mountLabel"))):
        if value:
            raise Refusal(f"{field} {value}: not applied by oci.py (no AppArmor or SELinux"
                          " here)")
    if linux.get("rootfsPropagation") in ("shared", "rshared", "unbindable", "runbindable"):
        raise Refusal(f"linux.rootfsPropagation {linux['rootfsPropagation']}: every mount here"
                      " is private (slave or private is taken as private)")
    maps = [linux.get(name) or [] for name in ("uidMappings", "gidMappings")]
    if bool(maps[0]) != bool(maps[1]):
        raise Refusal("linux.uidMappings, gidMappings: a user namespace maps both or neither"
                      " (its ids would be the overflow id 65534)")
    return {
        "process": {"terminal": bool(process.get("terminal")), "user": process.get("user", {}),
                    "args": args, "env": process.get("env", []), "cwd": process["cwd"],
                    "noNewPrivileges": bool(process.get("noNewPrivileges")),
                    "rlimits": rlimits_of(process.get("rlimits", [])),
                    "oomScoreAdj": process.get("oomScoreAdj"),
                    **({"capabilities": capabilities_of(process["capabilities"])}
                       if "capabilities" in process else {})},
        "root": {"path": root, "readonly": bool(config["root"].get("readonly")),
                 "makeMountPoints": True, "inTheCallersMountNamespace": in_the_caller_s},
        "hostname": config.get("hostname") or None,  # none: the one the namespace has
        "mounts": mounts,
        "joined": joined,
        "sysctl": sysctls_of(linux.get("sysctl") or {}, namespaces + joined),
        "linux": {"namespaces": namespaces, "devices": devices,
                  "maskedPaths": [inside(path, "linux.maskedPaths")
                                  for path in linux.get("maskedPaths", [])],
                  "readonlyPaths": [inside(path, "linux.readonlyPaths")
                                    for path in linux.get("readonlyPaths", [])],
                  "seccomp": linux.get("seccomp"),
                  "uidMappings": linux.get("uidMappings"), "gidMappings": linux.get("gidMappings"),
                  "resources": resources, "cgroupsPath": os.path.normpath(cgroups_path)
                  if cgroups_path else None},
        "annotations": config.get("annotations", {}),
        "hooks": hooks,
    }


def checked_process(process, where):
    """The args of an OCI process (config.json's, or exec's), once the rest is one too."""
    args = process["args"]
    if not args:
        raise Refusal(f"{where}.args: a command is a list of strings, the first its program")
    if not process["cwd"].startswith("/"):
        raise Refusal(f"{where}.cwd {named(process['cwd'])}: not an absolute path")
    checked_environment(process.get("env", []), where)
    return args


def checked_environment(env, where):
    """Each NAME=VALUE, as runc wants them: an entry without = is refused, not left out."""
    for entry in env:
        if "=" not in entry or entry.startswith("="):
            raise Refusal(f"{where}.env {short(entry)}: not NAME=VALUE")


def checked_namespace(kind, path):
    """{"type", "path"} of a namespace to join, once `path` is one of that kind (ns files)."""
    try:
        # O_NONBLOCK: a FIFO there would wait for a writer, for ever.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise Refusal(f"linux.namespaces {kind} {named(path)}: {error.strerror}") from None
    try:
        found = os.readlink(f"/proc/self/fd/{descriptor}").split(":")[0]
    finally:
        os.close(descriptor)
    if found != steps.NAMESPACE_FILES[kind]:
        raise Refusal(f"linux.namespaces {kind} {path}: not a {kind} namespace")
    return {"type": kind, "path": path}


def join(namespaces, kinds):
    """setns(2) into the spec's namespaces of these kinds, by path, in setns's order."""
    by_file = {steps.NAMESPACE_FILES[namespace["type"]]: namespace["path"]
               for namespace in namespaces if namespace["type"] in kinds}
    for name in libns.SETNS_ORDER:
        if name in by_file:
            descriptor = os.open(by_file[name], os.O_RDONLY | os.O_CLOEXEC)
            try:
                libns.setns(descriptor, by_file[name])
            finally:
                os.close(descriptor)


# The sysctls of a namespace: writing one changes that namespace only, and
# so only where the container has it (runc's list).  Any other is the
# host's whole kernel's, and refused.
NAMESPACED_SYSCTLS = {
    "ipc": ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
            "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "fs.mqueue."),
    "network": ("net.",), "uts": ("kernel.hostname", "kernel.domainname")}


def sysctls_of(given, namespaces):
    """linux.sysctl, each of a namespace the container has; [(/proc/sys path, value)].

    A namespace joined by path may be the host's own (/proc/1/ns/net), or
    the caller's: a sysctl there would change the host's, so it is refused,
    as runc refuses it.
    """
    sysctls = []
    for key, value in given.items():
        if "" in key.split(".") or "/" in key:
            raise Refusal(f"linux.sysctl {named(key)}: not the name of a setting")
        owner = next((namespace for namespace in namespaces for name in
                      NAMESPACED_SYSCTLS.get(namespace["type"], ())
                      if key == name or name.endswith(".") and key.startswith(name)), None)
        if owner is None:
            raise Refusal(f"linux.sysctl {key}: not one of a namespace this container has"
                          " of its own: it would change the host's")
        if "path" in owner and is_the_host_s(owner):
            raise Refusal(f"linux.sysctl {key}: linux.namespaces {owner['type']}"
                          f" {owner['path']} is the host's: it would change the host's")
        sysctls.append(("/proc/sys/" + key.replace(".", "/"), value))
    return sysctls


def is_the_host_s(namespace):
    """Whether the namespace at namespace["path"] is the caller's or PID 1's (ns files)."""
    name = steps.NAMESPACE_FILES[namespace["type"]]

    def identity(path):  # PID 1's is no ordinary user's to see: then not compared
        try:
            found = os.stat(path)
        except OSError:
            return None
        return found.st_dev, found.st_ino
    found = identity(namespace["path"])
    return found is not None and found in (identity(f"/proc/self/ns/{name}"),
                                           identity(f"/proc/1/ns/{name}"))


def write_sysctls(sysctls):
    """In the child, first of all: /proc/sys shows the namespaces of who reads it, its own."""
    for path, value in sysctls:
        with open(path, "w") as file:
            file.write(value)
        libns.trace(f"write(\"{path}\", \"{value}\")")


# The child joins a namespace by path before its first step; a PID namespace
# takes in only the children of who joins it: the runtime joins it, then clones.
JOINED_BY_THE_PARENT = ("pid", "time")


def rlimits_of(given):
    """process.rlimits as [(resource number, soft, hard)], each checked as setrlimit(2) would."""
    rlimits = []
    for rlimit in given:
        kind, soft, hard = rlimit["type"], rlimit["soft"], rlimit["hard"]
        if not (kind.startswith("RLIMIT_") and hasattr(resource, kind)):
            raise Refusal(f"process.rlimits: no such limit {kind!r}")
        if not 0 <= soft <= hard < 1 << 64:
            raise Refusal(f"process.rlimits {kind}: soft {soft} and hard {hard}: not a limit"
                          " (0 <= soft <= hard < 2^64)")
        rlimits.append((getattr(resource, kind), soft, hard))
    return rlimits


def capabilities_of(given):
    """process.capabilities, with the sets it leaves out empty (as runc has them).

    A name this kernel has no capability for (misspelt, made up, or newer
    than the kernel) is left out with a warning, not refused: so runtime
    spec 1.1 says, and runc and crun do, since Docker asks for every
    capability it knows of, which an older kernel may not have.  Leaving one
    out gives the container less, never more.
    """
    with open("/proc/sys/kernel/cap_last_cap") as last:
        known = {f"CAP_{name}" for name in libns.CAPABILITIES[:int(last.read()) + 1]}
    asked = {kind: list(given.get(kind) or []) for kind in ("bounding", "effective", "permitted",
                                                            "inheritable", "ambient")}
    unknown = sorted({str(name) for names in asked.values() for name in names} - known)
    if unknown:
        libns.write_stderr(f"{libns.program_name()}: warning: process.capabilities:"
                           f" {', '.join(unknown)}: no such capability on this kernel, left out")
    return {kind: [name for name in names if name in known] for kind, names in asked.items()}


def set_rlimits(rlimits):
    """The process's limits, set before it is confined (raising one may take CAP_SYS_RESOURCE)."""
    for kind, soft, hard in rlimits:
        try:
            resource.setrlimit(kind, (soft, hard))
        except (OSError, ValueError):  # Python's ValueError: EPERM, a hard limit raised
            name = next(name for name in dir(resource)
                        if name.startswith("RLIMIT_") and getattr(resource, name) == kind)
            raise OSError(errno.EPERM, f"process.rlimits {name} {soft} {hard}: above the hard"
                          f" limit this runtime has, {resource.getrlimit(kind)[1]}, which only"
                          " CAP_SYS_RESOURCE may raise") from None


def resources_of(given):
    """linux.resources as runtime/cgroups.py applies them: what is set, the rest left out.

    A client sends every field, 0 for "no limit" (Docker: cpu.shares 0,
    pids.limit 0, blockIO.weight 0).  What is set and not applied yet is
    refused, never left out in silence.
    """
    resources = {}
    applied = {"memory": ("limit", "swap", "reservation", "swappiness", "kernel", "kernelTCP",
                          "disableOOMKiller"), "pids": ("limit",),
               "cpu": ("quota", "period", "shares", "realtimeRuntime", "realtimePeriod"),
               "cpuset": ("cpus", "mems")}
    given = {**given, "cpuset": {key: value for key, value in (given.get("cpu") or {}).items()
                                 if key in ("cpus", "mems")}}
    swappiness = (given.get("memory") or {}).get("swappiness")
    if swappiness in (-1, (1 << 64) - 1):  # unset, as runc takes it (Docker's -1, as uint64)
        given = {**given, "memory": {**given["memory"], "swappiness": None}}
    elif swappiness is not None and not 0 <= swappiness <= 100:
        raise Refusal(f"linux.resources.memory.swappiness {swappiness}: not from 0 to 100")
    for kind, keys in applied.items():
        values = {key: value for key, value in (given.get(kind) or {}).items()
                  if key in keys and value not in (None, 0, "", False)}
        if kind == "cpu" and "quota" in values:
            values["period"] = values.get("period") or 100_000
        elif kind == "cpu" and "period" in values:
            raise Refusal("linux.resources.cpu.period: a period alone limits nothing; give"
                          " the quota with it")
        if kind == "memory" and "swap" in values and "limit" not in values:
            raise Refusal("linux.resources.memory.swap: memory and swap together, given with"
                          " memory.limit")
        if values:
            resources[kind] = values
    if given.get("devices"):
        resources["devices"] = given["devices"] + DEFAULT_DEVICE_RULES
    unapplied = [f"{kind}.{key}" for kind, values in given.items()
                 if isinstance(values, dict) for key, value in values.items()
                 if value and key not in applied.get(kind, ()) + (
                     ("cpus", "mems") if kind == "cpu" else ())]
    unapplied += [kind for kind, values in given.items()
                  if isinstance(values, list) and values and kind != "devices"]
    if unapplied:
        raise Refusal(f"linux.resources: {', '.join(unapplied)}: not applied by oci.py yet")
    return resources


def run_hooks(state, point):
    """The hooks at `point`, in order, each with the state (as `state` prints it) on stdin.

    A hook that fails, or outlives its timeout, raises Refusal: the call
    that ran it fails (create), or says so (start, delete: see warn).
    """
    for hook in state["hooks"].get(point, []):
        path = hook["path"]
        try:
            result = subprocess.run(
                hook.get("args") or [path], executable=path, input=json.dumps(public(state)),
                env=dict(item.split("=", 1) for item in hook.get("env", []) if "=" in item),
                capture_output=True, text=True, errors="replace", timeout=hook.get("timeout"),
                # Not the signals libns.clone() holds for its waitpid().
                preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, ()))
        except subprocess.TimeoutExpired:
            raise Refusal(f"the {point} hook {path}: still running after {hook['timeout']} s,"
                          " killed") from None
        except OSError as error:
            raise Refusal(f"the {point} hook {path}: {error.strerror}") from None
        if result.returncode:
            said = (result.stderr.strip().splitlines() or [""])[-1]
            raise Refusal(f"the {point} hook {path}: exited with {result.returncode}"
                          + (f": {said}" if said else ""))


def run_hooks_inside(state, point):
    """run_hooks() in the container's PID 1: a failure is its ChildError, and it ends.

    Before create's end, create says it and fails; after it (startContainer),
    PID 1 says it on its own stderr, which the client shows, and the
    container stops without its command, as the spec wants.
    """
    try:
        run_hooks(state, point)
    except Refusal as error:
        raise libns.ChildError(0, str(error), error.status) from None


def warn(state, point):
    """The hooks at `point`, where a failure is a warning and the lifecycle goes on (OCI)."""
    try:
        run_hooks(state, point)
    except Refusal as error:
        libns.write_stderr(f"{libns.program_name()}: warning: {error}")


# --- the container's last steps: PID 1 waits for start, then is the command -----------

def found_on_path(args):
    """Refuse a command PATH does not have, in runc's words, which clients read.

    Docker exits 127 on "executable file not found".
    """
    if "/" not in args[0] and shutil.which(args[0]) is None:
        raise libns.ChildError(errno.ENOENT, f"exec: \"{args[0]}\": executable file not found"
                               " in $PATH", 127)


def exec_checked(args, detach=False):
    """execvp() the command, found on PATH; with `detach`, to outlive its parent."""
    found_on_path(args)
    if detach:
        # The caller exits, and this process must outlive it.
        libns.set_parent_death_signal(0)
    libns.execvp(libns.command_bytes(args))


def ids_of(user):
    """become() for an OCI process.user, or None for root: groups, gid, uid, in that order."""
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    groups = [int(group) for group in user.get("additionalGids", [])]
    if (uid, gid, groups) == (0, 0, []):
        return None

    def become():
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    return become


def wait_then_exec(fifo, spec, state):
    """steps.create's last step for a runtime: confine, wait for `start`, exec the command.

    What stays of us in the container between create and start is this
    process, blocked in read(): it holds no descriptor of the host's but
    the fifo, is not dumpable, and has the container's capabilities,
    seccomp filter and ids already.  The startContainer hooks run as the
    command would, confined; then execve() replaces it whole.
    """
    def pid_1(process, linux, pts):
        found_on_path(process["args"])  # refused while create can still say it
        if pts is not None:
            terminal.attach(pts)  # its master end is the client's (--console-socket)
            os.close(pts)
        if spec["root"]["readonly"]:
            libns.mount(None, "/", None, libns.MS_REMOUNT | libns.MS_BIND | libns.MS_RDONLY
                        | libns.MS_NODEV)
        libns.close_fds_from_3_except(keep=(fifo,))
        set_rlimits(process["rlimits"])
        if process["oomScoreAdj"] is not None:  # lower than ours needs CAP_SYS_RESOURCE
            with open("/proc/self/oom_score_adj", "w") as file:
                file.write(str(process["oomScoreAdj"]))
        confinement.confine(process, linux.get("seccomp"), ids_of(process["user"]))
        libns.set_dumpable(False)  # no process of the container may open our /proc files
        os.umask(int(process["user"].get("umask", 0o022)))
        # create has done its part: it exits, and this process must outlive it.
        libns.set_parent_death_signal(0)
        libns.end_setup()
        os.read(fifo, 1)  # until start writes its byte
        os.close(fifo)
        run_hooks_inside({**state, "status": "created"}, "startContainer")
        exec_checked(process["args"])
    return pid_1


def create(root, bundle, container_id, pid_file=None, console_socket=None):
    """The container, created: PID 1 waits on the fifo; its state written; its pid returned."""
    spec = spec_of(os.path.abspath(bundle))
    console = connected(console_socket, spec["process"]["terminal"])
    directory = container_directory(root, container_id)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        raise Refusal(f"container {container_id} exists already") from None
    pid, cgroup = None, None
    state = {"ociVersion": OCI_VERSION, "id": container_id, "pid": 0, "status": "creating",
             "bundle": os.path.abspath(bundle), "rootfs": spec["root"]["path"],
             "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
             "owner": "", "annotations": spec["annotations"], "hooks": spec["hooks"],
             "cgroups": {}, "confinement": {
                 "seccomp": spec["linux"]["seccomp"],
                 **{key: spec["process"][key] for key in ("capabilities", "noNewPrivileges")
                    if key in spec["process"]}}}
    if spec["root"]["inTheCallersMountNamespace"]:
        # Where the root's bind mount will be, and how many mounts are there
        # before it: forget() detaches it, with every mount below it.
        state["mounted"] = {"namespace": os.readlink("/proc/self/ns/mnt"),
                            "below": steps.rootfs.mounts_at(spec["root"]["path"])}

    def prepare(child):
        """While the child waits for "go": into its cgroup before it runs a line, the hooks."""
        if cgroup is not None:
            cgroup.join(child)
        for point in ("prestart", "createRuntime"):
            run_hooks({**state, "pid": child, "status": "created"}, point)
    try:
        cgroup = cgroup_of(spec, container_id)
        if cgroup is not None:
            state["cgroups"] = cgroup.directories
        os.mkfifo(os.path.join(directory, FIFO), 0o600)
        # O_RDWR: opened without waiting for a writer, and PID 1's read()
        # waits for start's byte.  start opens it for writing with
        # O_NONBLOCK, which fails (ENXIO) once no reader is left.
        fifo = os.open(os.path.join(directory, FIFO), os.O_RDWR | os.O_CLOEXEC)

        def child_exec(argv):
            join(spec["joined"], set(steps.NAMESPACE_FILES) - set(JOINED_BY_THE_PARENT))
            write_sysctls(spec["sysctl"])
            # Our pid as `state` shows it: the host's /proc is still ours to read.
            seen = {**state, "pid": int(os.readlink("/proc/self"))}
            steps.create(spec, None, console, cgroup, wait_then_exec(fifo, spec, seen),
                         before_switch=lambda: run_hooks_inside(seen, "createContainer"))
        try:
            join(spec["joined"], JOINED_BY_THE_PARENT)
            pid = libns.clone(child_exec, libns.map_stack(), steps.clone_flags_of(spec),
                              spec["process"]["args"], id_map=steps.id_map_of(spec["linux"]),
                              prepare=prepare)
        finally:
            os.close(fifo)
            if console is not None:
                console.close()
        write_state(directory, {**state, "pid": pid, "status": "created",
                                "start time": start_time(pid)[0]})
        if pid_file:
            write_pid_file(pid_file, pid)
    except BaseException:
        forget(directory, state, pid)
        raise
    return pid


def cgroup_of(spec, container_id):
    """The container's cgroup, with its limits, at linux.cgroupsPath; None if none can be had.

    cgroupsPath as runc takes it: absolute from the top of each tree
    (Docker's /docker/ID), relative from the caller's own cgroup; none
    given, below the caller's, named by the id.  It is always in the
    freezer too, for pause.  Where cgroups cannot be made (an ordinary
    user's, a read-only cgroup file system), a container that asks for no
    limit and no cgroup goes without: pause then says why it cannot.
    """
    resources, path = spec["linux"]["resources"], spec["linux"]["cgroupsPath"]
    needed = resources or path or any(mount["type"] == "cgroup" for mount in spec["mounts"])
    if not needed and cgroups.cannot_make(cgroups.controllers_for(resources) + ["freezer"]):
        return None
    return cgroups.Cgroup(path or f"{cgroups.PREFIX}oci.{container_id}", resources,
                          freezer=True)


def connected(path, with_terminal):
    """The client's --console-socket, connected, where the process has a terminal; else None.

    The container's PID 1 sends the master end of its terminal there
    (SCM_RIGHTS): the client (conmon, Docker's shim) relays it.
    """
    if not with_terminal:
        return None
    if not path:
        raise Refusal("process.terminal: the terminal's master end goes to --console-socket"
                      " SOCKET, which is missing")
    console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        console.connect(path)
    except OSError as error:
        console.close()
        raise Refusal(f"--console-socket {path}: {error.strerror}") from None
    return console


def forget(directory, state, pid=None):
    """Remove the container's state, cgroup and mounts; kill its PID 1 (a child of ours) first."""
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    mounted = state.get("mounted")
    if mounted and os.readlink("/proc/self/ns/mnt") != mounted["namespace"]:
        libns.write_stderr(f"{libns.program_name()}: warning: container {state['id']}: its"
                           f" mounts are in mount namespace {mounted['namespace']}, not ours:"
                           " left there")
    elif mounted and steps.rootfs.mounts_at(state["rootfs"]) > mounted["below"]:
        libns.umount2(state["rootfs"], libns.MNT_DETACH)  # and every mount under it
    for cgroup in state["cgroups"].values():
        cgroups.remove_cgroup(cgroup)
    shutil.rmtree(directory, ignore_errors=True)


def start(root, container_id):
    """Let PID 1 go on to exec the command: one byte into its fifo; then poststart hooks."""
    directory, state = read_state(root, container_id)
    if state["status"] != "created":
        raise Refusal(f"container {container_id} is {state['status']}, not created: it cannot"
                      " start")
    try:
        fifo = os.open(os.path.join(directory, FIFO), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise Refusal(f"container {container_id}: its PID 1 is gone ({error.strerror})") from None
    try:
        os.write(fifo, b"\0")
    finally:
        os.close(fifo)
    os.unlink(os.path.join(directory, FIFO))  # from now on, running
    warn({**state, "status": "running"}, "poststart")


def pause(root, container_id, frozen=True):
    """Freeze every process of the container (pause), or thaw them (resume): its freezer cgroup."""
    _, state = read_state(root, container_id)
    if state["status"] != ("running" if frozen else "paused"):
        raise Refusal(f"container {container_id} is {state['status']}, not"
                      f" {'running' if frozen else 'paused'}")
    if not state["cgroups"]:
        raise Refusal(f"container {container_id} has no cgroup (none could be made here): it"
                      " cannot be frozen")
    cgroups.freeze(state["cgroups"], frozen)


def update(root, container_id, given):
    """New limits for a created, running or paused container (docker update): its cgroup's files.

    `given`: linux.resources as JSON (--resources FILE, or - for stdin, as
    Docker sends it), or runc's --memory, --memory-swap, --pids-limit,
    --cpu-quota, --cpu-period.
    """
    _, state = read_state(root, container_id)
    if state["status"] == "stopped":
        raise Refusal(f"container {container_id} is not running")
    if given["--resources"]:
        try:
            if given["--resources"] == "-":
                resources = loaded(sys.stdin)
            else:
                with open(given["--resources"]) as file:
                    resources = loaded(file)
        except OSError as error:
            raise Refusal(f"update --resources {given['--resources']}: {error.strerror}") \
                from None
        except ValueError as error:
            raise Refusal(f"update --resources: not JSON ({error})") from None
    else:
        flags = {"--memory": ("memory", "limit"), "--memory-swap": ("memory", "swap"),
                 "--pids-limit": ("pids", "limit"), "--cpu-quota": ("cpu", "quota"),
                 "--cpu-period": ("cpu", "period")}
        resources = {}
        for flag, (kind, key) in flags.items():
            if given[flag] is not None:
                resources.setdefault(kind, {})[key] = size_of(flag, given[flag])
    if not state["cgroups"]:
        raise Refusal(f"container {container_id} has no cgroup (none could be made here)")
    try:
        resources = checked(resources, RESOURCES, "linux.resources")
        resources.pop("devices", None)  # Docker's update sends none; the create's rules stay
        limits = resources_of(resources)
    except Refusal as error:
        raise Refusal(f"update{' --resources' if given['--resources'] else ''}: {error}") \
            from None
    cgroups.Cgroup.of(state["cgroups"], limits).write_limits()


def size_of(flag, value):
    """A number of runc's flags: 64m, 1g, 100000 (bytes, or a count)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    number, unit = (value[:-1], value[-1].lower()) if value[-1:].isalpha() else (value, "")
    if not number.lstrip("-").isdigit() or unit not in ("", *units):
        raise Refusal(f"update {flag} {value}: not a number (bytes with k, m or g)")
    return int(number) * units.get(unit, 1)


def exec_in(root, container_id, process_file, pid_file=None, detach=False,
            console_socket=None):
    """A second process in a running container, as docker exec starts one; its returncode.

    enter.py's steps: the container's cgroup, then its namespaces, root and
    working directory (setns, chroot); the process from `process_file`
    (exec --process: args, env, cwd, user, capabilities) is a child made
    there, in the container's PID namespace, confined as PID 1 was, with
    the container's seccomp filter.  --detach: leave it running.
    """
    _, state = read_state(root, container_id)
    if state["status"] != "running":
        raise Refusal(f"container {container_id} is {state['status']}: nothing to exec in")
    try:
        with open(process_file) as file:
            process = loaded(file)
        if not isinstance(process, dict):
            raise Refusal("not an OCI process (not an object)")
        process = checked({"cwd": "/", **{key: value for key, value in process.items()
                                          if value is not None}}, PROCESS, "process")
        for field in ("apparmorProfile", "selinuxLabel"):
            if process.get(field):
                raise Refusal(f"process.{field} {named(process[field])}: not applied by oci.py"
                              " (no AppArmor or SELinux here)")
        args, env, cwd = checked_process(process, "process"), process.get("env", []), \
            process["cwd"]
        become, rlimits = ids_of(process.get("user", {})), rlimits_of(process.get("rlimits", []))
    except OSError as error:
        raise Refusal(f"exec --process {process_file}: {error.strerror}") from None
    except ValueError as error:
        raise Refusal(f"exec --process {process_file}: not JSON ({error})") from None
    except Refusal as error:
        raise Refusal(f"exec --process {process_file}: {error}") from None
    # What the process leaves out is the container's, as runc has it: its
    # capabilities, and no_new_privs where PID 1 has it (the spec's "false"
    # cannot undo it: the kernel keeps it for every child).
    confined = state.get("confinement") or {"seccomp": None}  # older oci.py's state: none
    if "capabilities" in process:
        confined = {**confined, "capabilities": capabilities_of(process["capabilities"])}
    if process.get("noNewPrivileges"):
        confined = {**confined, "noNewPrivileges": True}
    console = connected(console_socket, process.get("terminal"))
    # What is the host's, reached before its paths are out of reach (chroot).
    folder = os.open(os.path.dirname(os.path.abspath(pid_file)), os.O_PATH | os.O_CLOEXEC) \
        if pid_file else None
    for directory in state["cgroups"].values():
        with open(os.path.join(directory, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
    enter.enter(str(state["pid"]))

    def child_exec(argv):
        if folder is not None:
            os.close(folder)  # the host's: the parent writes the pid file in it
        if console is not None:
            pts = terminal.open_inside(console)  # in the container's own devpts
            terminal.attach(pts)
            os.close(pts)
        libns.set_environment(dict(item.split("=", 1) for item in env if "=" in item))
        os.chdir(cwd)
        set_rlimits(rlimits)
        confinement.confine(confined, confined["seccomp"], become)
        libns.set_dumpable(False)
        exec_checked(args, detach)
    pid = libns.clone(child_exec, libns.map_stack(), 0, args)
    if console is not None:
        console.close()
    if pid_file:
        write_pid_file(pid_file, pid, folder)
    return None if detach else libns.waitpid(pid)


def write_pid_file(path, pid, folder=None):
    """As runc writes it: the decimal pid, no newline, whole or not at all.

    `folder`: the descriptor of the file's folder, opened before a chroot.
    """
    if folder is None:
        folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_PATH | os.O_CLOEXEC)
    name = os.path.basename(path)
    temporary = f".{name}.{os.getpid()}.tmp"
    try:
        # O_EXCL, O_NOFOLLOW: a link put there by whoever may write in the
        # folder is not followed, nor an older file written through.
        file = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                       | os.O_CLOEXEC, 0o644, dir_fd=folder)
    except OSError as error:
        os.close(folder)
        raise Refusal(f"--pid-file {path}: {error.strerror}") from None
    try:
        try:
            os.write(file, str(pid).encode())
        finally:
            os.close(file)
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except OSError as error:
        os.unlink(temporary, dir_fd=folder)  # whole or not at all: no temporary file either
        raise Refusal(f"--pid-file {path}: {error.strerror}") from None
    finally:
        os.close(folder)


def kill(root, container_id, name="TERM", every=False):
    """The signal to PID 1; with --all, to every process of the container's cgroup."""
    _, state = read_state(root, container_id)
    signum = signal_number(name)
    if state["status"] == "stopped":
        raise Refusal(f"container {container_id} is not running")
    for pid in processes(state) if every else [state["pid"]]:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass  # it ended meanwhile
    if state["status"] == "paused" and signum == signal.SIGKILL:
        cgroups.freeze(state["cgroups"], False)  # a frozen process dies once thawed, as runc


def processes(state):
    """The pids of the container's processes, as the host numbers them: its cgroup's."""
    if not state["cgroups"]:
        return [state["pid"]] if state["status"] != "stopped" else []
    with open(os.path.join(next(iter(state["cgroups"].values())), "cgroup.procs")) as procs:
        return [int(pid) for pid in procs.read().split()]


def signal_number(name):
    """TERM, SIGTERM or 15, as runc and kill(1) take it."""
    if name.isdigit() and 0 < int(name) < signal.NSIG:
        return int(name)
    try:
        return signal.Signals["SIG" + name.upper().replace("SIG", "", 1)].value
    except KeyError:
        raise Refusal(f"{name}: no such signal") from None


def delete(root, container_id, force=False):
    """Forget a stopped container; with --force, kill a created or running one first."""
    try:
        directory, state = read_state(root, container_id)
    except Refusal:
        if force:
            return  # as runc: nothing to delete is no failure with --force
        raise
    if state["status"] != "stopped" and not force:
        raise Refusal(f"container {container_id} is {state['status']}, not stopped: stop it,"
                      " or delete --force")
    if state["status"] != "stopped":
        os.kill(state["pid"], signal.SIGKILL)
        if state["status"] == "paused":
            cgroups.freeze(state["cgroups"], False)  # a frozen process dies once thawed
        deadline = time.monotonic() + KILL_SECONDS
        while status_of(directory, state) != "stopped":  # not our child: its parent reaps it
            if time.monotonic() > deadline:
                raise Refusal(f"container {container_id}: its PID 1 was killed and has not ended"
                              f" in {KILL_SECONDS} s (the kernel waits for every process of its"
                              " PID namespace to be reaped: is one a zombie of a parent that"
                              " never waits?)")
            time.sleep(0.001)
    warn({**state, "status": "stopped"}, "poststop")
    forget(directory, state)


def run(root, bundle, container_id, pid_file=None, detach=False, console_socket=None):
    """create and start; wait for the command, as runc run does, and return its returncode.

    --detach: leave it running, as create and start would (None).
    """
    pid = create(root, bundle, container_id, pid_file, console_socket)
    directory, state = read_state(root, container_id)
    try:
        start(root, container_id)
    except BaseException:
        forget(directory, state, pid)
        raise
    if detach:
        return None
    returncode = libns.waitpid(pid)
    warn({**state, "status": "stopped"}, "poststop")
    forget(directory, state)
    return returncode


def features():
    """What this runtime applies, as runc features says it (a JSON document)."""
    return {"ociVersionMin": "1.0.0", "ociVersionMax": OCI_VERSION, "hooks": list(HOOKS),
            "mountOptions": sorted(steps.rootfs.MOUNT_OPTIONS) + sorted(steps.rootfs.NO_FLAG),
            "linux": {"namespaces": sorted(steps.NAMESPACE_FILES),
                      "capabilities": [f"CAP_{name}" for name in libns.CAPABILITIES],
                      "cgroup": {"v1": True, "v2": True, "systemd": False},
                      "seccomp": {"enabled": True}},
            "annotations": {"org.opencontainers.runc.version": f"oci.py {VERSION}"}}


# --- the command line -------------------------------------------------------------------

COMMANDS = {"create": {"--bundle": ".", "--pid-file": None, "--console-socket": None},
            "start": {}, "state": {}, "kill": {"--all": False}, "delete": {"--force": False},
            "run": {"--bundle": ".", "--pid-file": None, "--detach": False,
                    "--console-socket": None},
            "list": {"--format": "table", "--quiet": False}, "features": {},
            "ps": {"--format": "table"}, "pause": {}, "resume": {},
            "update": {"--resources": None, "--memory": None, "--memory-swap": None,
                       "--pids-limit": None, "--cpu-quota": None, "--cpu-period": None},
            "exec": {"--process": None, "--pid-file": None, "--detach": False,
                     "--console-socket": None, "--tty": False, "--cwd": None}}
GLOBAL = {"--root": None, "--log": None, "--log-format": "text", "--debug": False,
          "--systemd-cgroup": False, "-v": False}


def options(args, known, where):
    """runc's way: --name VALUE, --name=VALUE, -b for --bundle; then the operands.

    `where` begins each refusal: "create: ", or "" for the global options.
    """
    values = dict(known)
    while args and args[0].startswith("-") and args[0] != "-":
        option, args = args[0], args[1:]
        name, has_value, value = option.partition("=")
        name = {"-b": "--bundle", "-f": "--force", "-d": "--detach", "-q": "--quiet",
                "-a": "--all"}.get(name, name)
        if name == "--":
            break
        if name not in values:
            raise Refusal(f"{where}unknown option {option!r}\n{usage()}")
        if values[name] is False:
            values[name] = True
        elif has_value:
            values[name] = value
        elif args:
            values[name], args = args[0], args[1:]
        else:
            raise Refusal(f"{where}option {name} needs a value")
    return values, args


def usage():
    return (f"usage: {libns.program_name()} [--root DIR] [--log FILE] [--log-format text|json]"
            f" [-v] {{{','.join(COMMANDS)}}} [OPTIONS] [ID]")


def main(args):
    if args[:1] in (["-h"], ["--help"]):
        libns.write_stdout(f"{usage()}\n\n{__doc__.strip()}\n" if __doc__ else f"{usage()}\n")
        return 0
    values, args = options(args, {**GLOBAL, "--version": False}, "")
    libns.tracing = values["-v"]
    if values["--log"]:
        # Opened now: exec reads the container's files after it has entered
        # it (chroot), where this path would name another file.
        log.update(file=open(values["--log"], "a", errors="backslashreplace"),
                   json=values["--log-format"] == "json")
    if values["--version"] or args[:1] == ["--version"]:
        libns.write_stdout(f"oci.py version {VERSION}\nspec: {OCI_VERSION}\n")
        return 0
    if values["--systemd-cgroup"]:
        raise Refusal("--systemd-cgroup: oci.py makes no cgroups through systemd; leave it out")
    if not args or args[0] not in COMMANDS:
        raise Refusal(f"a command is one of {', '.join(COMMANDS)}\n{usage()}")
    command, (given, operands) = args[0], options(args[1:], COMMANDS[args[0]], f"{args[0]}: ")
    if command == "features":
        libns.write_stdout(json.dumps(features(), indent=2) + "\n")
        return 0
    root = state_root(values["--root"])
    if command == "list":
        return list_containers(root, given["--quiet"])
    if not operands:
        raise Refusal(f"{command}: the container's id is missing\n{usage()}")
    container_id, rest = operands[0], operands[1:]
    if command == "create":
        create(root, given["--bundle"], container_id, given["--pid-file"],
               given["--console-socket"])
    elif command == "run":
        returncode = run(root, given["--bundle"], container_id, given["--pid-file"],
                         given["--detach"], given["--console-socket"])
        if returncode is not None:
            libns.exit(returncode)
    elif command == "start":
        start(root, container_id)
    elif command == "state":
        _, state = read_state(root, container_id)
        libns.write_stdout(json.dumps(public(state), indent=2) + "\n")
    elif command == "kill":
        kill(root, container_id, *rest[:1], every=given["--all"])
    elif command == "exec":
        if not given["--process"]:
            raise Refusal("exec: --process FILE is needed (an OCI process, as clients write it)")
        returncode = exec_in(root, container_id, given["--process"], given["--pid-file"],
                             given["--detach"], given["--console-socket"])
        if returncode is not None:
            libns.exit(returncode)
    elif command == "ps":
        pids = processes(read_state(root, container_id)[1])
        if given["--format"] == "json":
            libns.write_stdout(json.dumps(pids) + "\n")
        else:  # runc's table is ps -ef's lines of these pids
            libns.write_stdout("".join(f"{pid}\n" for pid in pids))
    elif command == "update":
        update(root, container_id, given)
    elif command in ("pause", "resume"):
        pause(root, container_id, command == "pause")
    elif command == "delete":
        delete(root, container_id, given["--force"])
    return 0


def list_containers(root, quiet):
    states = []
    for name in sorted(os.listdir(root)):
        try:
            states.append(read_state(root, name)[1])
        except Refusal:
            continue  # deleted meanwhile, or not one of ours
    for state in states:
        libns.write_stdout(f"{state['id']}\n" if quiet else
                           f"{state['id']}  {state['pid']}  {state['status']}  {state['bundle']}\n")
    return 0


log = {"file": None, "json": False}


def fail(message, status):
    """One line on stderr; with --log, in the log too, as JSON with --log-format json (Docker)."""
    if log["file"]:
        line = json.dumps({"level": "error", "msg": message,
                           "time": datetime.datetime.now(datetime.timezone.utc).isoformat()}) \
            if log["json"] else message
        try:
            log["file"].write(line + "\n")
            log["file"].flush()
        except OSError:
            pass  # stderr has it still
    libns.exit_with_message(message, status)


if __name__ == "__main__":
    libns.errors_exit_like_docker_run()
    try:
        sys.exit(main(sys.argv[1:]))
    except Refusal as error:
        fail(str(error), error.status)
    except libns.ChildError as error:
        fail(error.strerror, error.status)
    except OSError as error:
        fail(libns._describe(error), 125)
