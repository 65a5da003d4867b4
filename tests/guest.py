"""guest.py: run a command in a QEMU guest whose kernel mounts only cgroup v2.

Usage:  sudo python3 tests/guest.py COMMAND [ARG...]

Most machines of the last five years have cgroup v2 alone; this one has v1
(see CONTAINER.md, "Cgroups do not exist either").  To try the other, boot
a small virtual machine and run the command there, in the same directory,
as root:

    sudo python3 tests/guest.py python3 -m pytest tests/test_limits.py

What it boots, each piece small enough to read:
- Debian's own kernel (linux-image-*-amd64), unpacked with dpkg-deb into a
  cache, not installed: installing would run initramfs-tools and pull in
  udev and a systemd upgrade;
- an initramfs made here: busybox-static, the four modules the kernel
  needs to reach the host's files (virtio_pci, 9pnet_virtio, 9p, overlay,
  and what they need), and a shell script as its /init;
- this machine's root file system, shared read-only over 9p (virtio), with
  a tmpfs over it under overlayfs: what the guest writes is thrown away;
- tests/guest_init.py as PID 1 of the guest: it mounts what a system has,
  cgroup v2 alone, runs the command, reaps orphans, prints the command's
  exit status for this runner to read, and powers the guest off.

Software emulation (TCG), one CPU: /dev/kvm here is nested ("PVM"), which
runs a stock kernel no faster.  A boot takes about 3 s; a command runs
about ten times slower than on the host.  The exit status is the
command's; 125 when the guest could not be made or did not say.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "containers-do-not-exist"
KERNEL_PACKAGE = "linux-image-amd64"  # Debian's metapackage: it depends on the current one
MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
# What guest_init.py prints last: the command's exit status.
STATUS_LINE = re.compile(rb"^guest: exit status (\d+)\s*$", re.M)
MEMORY = "1G"


def fail(message):
    print(f"guest.py: {message}", file=sys.stderr)
    sys.exit(125)


def run(*command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        fail(f"{' '.join(command)}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def install(command, package):
    """apt-get install `package` if `command` is missing (what CI's machine may lack)."""
    if shutil.which(command) is None:
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", package,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def kernel():
    """(vmlinuz, modules directory) of Debian's current kernel, unpacked once into the cache."""
    depends = run("apt-cache", "depends", KERNEL_PACKAGE)
    found = re.search(r"Depends: (linux-image-[0-9][^\s]*-amd64)\s", depends)
    if not found:
        fail(f"apt-cache depends {KERNEL_PACKAGE}: no linux-image-*-amd64 in it")
    package = found.group(1)
    unpacked = CACHE / package
    if not (unpacked / "boot").is_dir():
        with tempfile.TemporaryDirectory(dir=CACHE) as download:
            run("apt-get", "download", package, cwd=download)
            work = Path(download) / "unpacked"
            run("dpkg-deb", "-x", str(next(Path(download).glob("*.deb"))), str(work))
            work.rename(unpacked)
    version = package[len("linux-image-"):]
    return unpacked / "boot" / f"vmlinuz-{version}", unpacked / "lib" / "modules" / version


def in_load_order(modules_directory, names):
    """The .ko files for `names`, each after those it needs.

    The package has no modules.dep (depmod makes it at install): each
    module says what it needs itself, in its .modinfo section, as the
    string "depends=netfs,9pnet".
    """
    files = {path.name[:-len(".ko")].replace("-", "_"): path
             for path in modules_directory.rglob("*.ko")}
    ordered = []

    def add(name):
        found = re.search(rb"\0depends=([^\0]*)\0", files[name].read_bytes())
        for dependency in filter(None, found.group(1).decode().split(",") if found else []):
            add(dependency.replace("-", "_"))
        if files[name] not in ordered:
            ordered.append(files[name])
    for name in names:
        add(name)
    return ordered


INIT = """#!/bin/busybox sh
# The initramfs's PID 1, until it hands over to guest_init.py.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /host /layer /root
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
for module in /modules/*.ko; do insmod "$module" || exit 1; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /host
mount -t tmpfs tmpfs /layer
mkdir /layer/upper /layer/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/layer/upper,workdir=/layer/work /root
umount /proc /dev
exec switch_root /root {python} {guest_init} {request}
"""


def initramfs(modules_directory, request):
    """A newc cpio of busybox, the modules and /init, as `cpio -o -H newc` writes it."""
    files = {"bin/busybox": Path(shutil.which("busybox")).read_bytes()}
    for number, module in enumerate(in_load_order(modules_directory, MODULES)):
        files[f"modules/{number:02d}-{module.name}"] = module.read_bytes()
    files["init"] = INIT.format(python=os.path.realpath(sys.executable),
                                guest_init=HERE / "guest_init.py", request=request).encode()
    archive = bytearray()
    directories = sorted({str(Path(name).parent) for name in files} - {"."})
    entries = [(name, 0o40755, b"") for name in directories]
    entries += [(name, 0o100755, content) for name, content in files.items()]
    for number, (name, mode, content) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
        encoded = name.encode() + b"\0"
        fields = [number, mode, 0, 0, 1, 0, len(content), 0, 0, 0, 0, len(encoded), 0]
        archive += b"070701" + b"".join(b"%08X" % field for field in fields) + encoded
        archive += bytes(-len(archive) % 4)  # the name, then the content, each padded to 4
        archive += content + bytes(-len(content) % 4)
    return bytes(archive)


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) == 2 else 2)
    if os.geteuid() != 0:
        fail("run it as root: the guest shares this machine's files as root sees them")
    install("qemu-system-x86_64", "qemu-system-x86")
    install("busybox", "busybox-static")
    CACHE.mkdir(parents=True, exist_ok=True)
    vmlinuz, modules_directory = kernel()
    with tempfile.TemporaryDirectory(prefix="guest-") as folder:
        # What the guest runs, read through the shared root: the command, where, and with what.
        request = Path(folder) / "request.json"
        request.write_text(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(),
                                       "env": dict(os.environ)}))
        (Path(folder) / "initrd").write_bytes(initramfs(modules_directory, request))
        qemu = subprocess.Popen([
            "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", MEMORY,
            "-nographic", "-nic", "none", "-no-reboot", "-kernel", str(vmlinuz),
            "-initrd", f"{folder}/initrd",
            "-append", "console=ttyS0 quiet loglevel=3 panic=-1",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,"
                       "multidevs=remap",
        ], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        output = b""
        for line in qemu.stdout:
            output += line
            # The firmware's banner and its terminal resets are not the guest's to show.
            line = re.sub(rb"\x1b(\[[0-9;?]*[A-Za-z]|c)", b"", line.replace(b"\r\n", b"\n"))
            if not line.startswith((b"SeaBIOS", b"Booting from ROM")):
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
        qemu.wait()
    status = STATUS_LINE.findall(output)
    if not status:
        fail("the guest ended without saying the command's exit status (see above)")
    sys.exit(int(status[-1]))


if __name__ == "__main__":
    main()
