"""Networking: a veth pair, addresses and a route, made with rtnetlink from Python.

Traffic goes only between the two ends of a pair a test made, on addresses
of its own subnet, and every exchange is bounded in count and time.  The
whole module runs in a network namespace of its own, the "host" of its
tools, whose interfaces are checked after every test, as always.
"""
import json
import os
import subprocess
import sys


import pytest

import libns
from helpers import (ROOT, TIMEOUT, interfaces, processes_with, read, run_as_nobody,
                     run_stage, stage_env, wait_until)

pytestmark = pytest.mark.usefixtures("namespaces_work")


@pytest.fixture(scope="module", autouse=True)
def a_network_of_the_module_s_own(namespaces_work):
    """Run the module's tools in a network namespace of its own, which is their host.

    They make their pairs, addresses and routes there as they would on the
    host, and the kernel cannot tell the difference.  But nobody else's
    containers are in it: another user of this machine, or another copy of
    this suite, can neither take this module's subnet and names meanwhile
    nor fail its checks, and the machine's own network is never touched.
    Only the test process's thread moves; it comes back at the end.
    """
    machine_s = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        libns.unshare(libns.CLONE_NEWNET)
        libns.set_link_up("lo")
        yield
    finally:
        libns.setns(machine_s, "/proc/thread-self/ns/net")
        os.close(machine_s)


def links():
    """The interfaces of the namespace the test is in (/sys/class/net is the machine's)."""
    return interfaces(read("/proc/net/dev"))

# Each test's own /30s, which nothing else on this machine uses.
SUBNET = "10.201.7.0/29"
HOST_ADDRESS, CONTAINER_ADDRESS = "10.201.7.1", "10.201.7.2"
# Named after their addresses: 10.201.7.1 and 10.201.7.5.
HOST_ENDS = ("vethc90701", "vethc90705")
PORT = 7007


def container(*arguments, stdin=subprocess.DEVNULL):
    return subprocess.Popen([sys.executable, str(ROOT / "container.py"), "--net", "veth",
                             "--subnet", SUBNET, *arguments], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=stage_env())


def echo_client(host, port):
    """Python that connects to host:port (trying for a while), sends ping, prints the answer.

    With host None, the host is the script's first argument.
    """
    host = "sys.argv[1]" if host is None else repr(host)
    return ("import socket, sys, time\n"
            "for _ in range(200):\n"
            "    try:\n"
            f"        connection = socket.create_connection(({host}, {port}), timeout=5)\n"
            "        break\n"
            "    except OSError:\n"
            "        time.sleep(0.05)\n"
            "connection.sendall(b'ping')\n"
            "print('answer:', connection.recv(16).decode(), flush=True)\n")


def stop(*tools):
    """Kill what is still running, and wait until the kernel has removed their pairs too."""
    for tool in tools:
        if tool.poll() is None:
            tool.kill()
        tool.wait()
    wait_until(lambda: not set(HOST_ENDS) & set(links()),
               "the killed tools' pairs are gone")


def echo_once(server):
    """Accept one connection on `server`, send back what it says."""
    server.settimeout(TIMEOUT)
    connection, _ = server.accept()
    with connection:
        connection.sendall(connection.recv(16))


def test_net_veth_gives_the_child_an_address_a_route_and_lo():
    result = run_stage("net_veth.py", "sh", "-c", "ip -4 -br addr; ip route; ip -o link show eth0")
    assert (result.returncode, result.stderr) == (0, "")
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["lo", "UNKNOWN", "127.0.0.1/8"]
    # Not the state column: the kernel says UP once it has seen the carrier, a moment later.
    assert lines[1][0].startswith("eth0@") and lines[1][2:] == ["10.200.0.2/30"]
    assert " ".join(lines[2]) == "default via 10.200.0.1 dev eth0"
    assert "UP" in lines[-1][2].strip("<>").split(",")  # eth0's flags, the last line


def test_the_trace_shows_each_netlink_message_as_ip_would_describe_it():
    result = run_stage("net_veth.py", "-v", "true")
    messages = [line for line in result.stderr.splitlines() if "RTM_" in line]
    pid = result.stderr.split("clone(")[1].split(" = ")[1].split()[0]
    assert messages == [
        f"RTM_NEWLINK vethc80001 type veth peer eth0 netns {pid} = 0",
        "RTM_NEWADDR vethc80001 10.200.0.1/30 = 0",
        "RTM_NEWLINK vethc80001 up = 0",
        "[child] RTM_NEWLINK lo up = 0",
        "[child] RTM_NEWADDR eth0 10.200.0.2/30 = 0",
        "[child] RTM_NEWLINK eth0 up = 0",
        "[child] RTM_NEWROUTE default via 10.200.0.1 dev eth0 = 0",
        "RTM_DELLINK vethc80001 = 0",  # the tool's end, at once, when the command has ended
    ]


def test_the_host_s_end_takes_no_spoofed_source_and_no_router_advertisement():
    tool = container("sh", "-c", "echo up; read line", stdin=subprocess.PIPE)
    try:
        assert tool.stdout.readline() == "up\n"
        settings = [read(f"/proc/sys/net/ipv4/conf/{HOST_ENDS[0]}/rp_filter")]
        if os.path.exists(f"/proc/sys/net/ipv6/conf/{HOST_ENDS[0]}"):
            settings.append(read(f"/proc/sys/net/ipv6/conf/{HOST_ENDS[0]}/accept_ra"))
        tool.stdin.write("go\n")
        tool.stdin.close()
        assert tool.wait(timeout=TIMEOUT) == 0
    finally:
        stop(tool)
    assert settings in (["1\n"], ["1\n", "0\n"])


def test_tcp_echo_from_the_container_to_the_host():
    import socket
    # The command starts once both ends are configured: its "up" says so.
    tool = container("sh", "-c", 'echo up; exec python3 -c "$0"', echo_client(HOST_ADDRESS, PORT))
    try:
        assert tool.stdout.readline() == "up\n"
        with socket.create_server((HOST_ADDRESS, PORT)) as server:
            echo_once(server)
            stdout, stderr = tool.communicate(timeout=TIMEOUT)
    finally:
        stop(tool)
    assert (tool.returncode, stdout, stderr) == (0, "answer: ping\n", "")


def test_tcp_echo_from_the_host_to_the_container():
    import socket
    server = ("import socket\n"
              f"server = socket.create_server(({CONTAINER_ADDRESS!r}, {PORT}))\n"
              "print('ready', flush=True)\n"
              "connection, _ = server.accept()\n"
              "connection.sendall(connection.recv(16))\n")
    tool = container("python3", "-c", server)
    try:
        assert tool.stdout.readline() == "ready\n"
        with socket.create_connection((CONTAINER_ADDRESS, PORT), timeout=TIMEOUT) as connection:
            connection.sendall(b"ping")
            assert connection.recv(16) == b"ping"
        assert tool.wait(timeout=TIMEOUT) == 0
    finally:
        stop(tool)


def test_two_containers_at_once_get_their_own_pairs_and_each_reaches_the_host():
    import socket
    # Each prints its address, waits for "go", then calls its own gateway.
    script = ('ip -4 -br addr show eth0; read go;'
              ' exec python3 -c "$0" "$(ip route | cut -d " " -f 3 | head -1)"')
    tools, addresses = [], []
    try:
        for port in (PORT, PORT + 1):
            tools.append(container("sh", "-c", script, echo_client(None, port),
                                   stdin=subprocess.PIPE))
            addresses.append(tools[-1].stdout.readline().split()[2])
        assert addresses == ["10.201.7.2/30", "10.201.7.6/30"]
        for tool, gateway, port in zip(tools, ("10.201.7.1", "10.201.7.5"), (PORT, PORT + 1)):
            with socket.create_server((gateway, port)) as server:
                tool.stdin.write("go\n")
                tool.stdin.flush()
                echo_once(server)
            assert tool.stdout.readline() == "answer: ping\n"
        assert [tool.wait(timeout=TIMEOUT) for tool in tools] == [0, 0]
    finally:
        stop(*tools)


def link_attributes(name, namespace_script):
    """`ip -d -j link show NAME` in a throwaway network namespace, after `namespace_script`."""
    result = subprocess.run(["unshare", "--net", "sh", "-c",
                             f"{namespace_script} && ip -d -j link show {name}"],
                            capture_output=True, text=True, env=stage_env(PYTHONPATH=str(ROOT)),
                            timeout=TIMEOUT)
    assert result.stderr == ""
    [link] = json.loads(result.stdout)
    # Not the carrier flags and state: the kernel sets them a moment later.
    return {"kind": link["linkinfo"]["info_kind"], "mtu": link["mtu"], "peer": link.get("link"),
            "up": "UP" in link["flags"]}


def test_our_pair_is_the_pair_ip_link_makes():
    ours = link_attributes("a0", f"{sys.executable} -c \"import libns;"
                                 " libns.add_veth_pair('a0', 'b0'); libns.set_link_up('a0')\"")
    theirs = link_attributes("a0", "ip link add a0 type veth peer name b0 && ip link set a0 up")
    assert ours == theirs == {"kind": "veth", "mtu": 1500, "peer": "b0", "up": True}


@pytest.mark.parametrize("call, message", [
    ("libns.add_veth_pair('a0', 'b0'); libns.add_veth_pair('a0', 'b1')",
     "[Errno 17] RTM_NEWLINK a0 type veth peer b1: File exists"),
    ("libns.add_address('nosuch0', '10.201.7.1', 30)",
     "[Errno 19] RTM_NEWADDR nosuch0 10.201.7.1/30: No such device"),
    ("libns.add_veth_pair('a' * 20, 'b0')",
     f"[Errno 34] RTM_NEWLINK {'a' * 20} type veth peer b0: Numerical result out of range"),
    ("libns.add_default_route('10.201.7.1', 'lo')",
     "[Errno 101] RTM_NEWROUTE default via 10.201.7.1 dev lo: Network is unreachable"),
])
def test_a_refused_request_is_one_line_naming_it(call, message):
    code = f"import libns\ntry:\n    {call}\nexcept OSError as error:\n    print(error)"
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", code], capture_output=True,
                            text=True, env=stage_env(PYTHONPATH=str(ROOT)), timeout=TIMEOUT)
    assert (result.stdout, result.stderr) == (message + "\n", "")


def test_the_host_s_end_is_gone_when_the_command_is_killed():
    marker = f"100.{os.getpid()}"
    tool = container("sleep", marker)
    try:
        sleeping = lambda: [pid for pid in processes_with(marker)  # noqa: E731
                            if open(f"/proc/{pid}/comm").read() == "sleep\n"]
        wait_until(sleeping, "sleep runs in the container")
        os.kill(sleeping()[0], 9)
        assert tool.wait(timeout=TIMEOUT) == 137
        assert HOST_ENDS[0] not in links()  # at once, not eventually
    finally:
        stop(tool)


def test_the_host_s_end_is_gone_when_setup_fails_after_the_pair_was_made():
    # In a user namespace with /proc/sys hidden, the proc mount fails after
    # the parent made the pair: in a network namespace of the test's own.
    script = f"""
        mount -t tmpfs hide /proc/sys || exit 90
        exec unshare --user --map-root-user --mount --net sh -c '
            {sys.executable} {ROOT / 'container.py'} --net veth true
            echo "status $?"; ip -br link | grep -c veth'
    """
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             script], capture_output=True, text=True, env=stage_env(),
                            timeout=TIMEOUT)
    assert result.stdout.split() == ["status", "125", "0"]


def test_veth_as_an_ordinary_user_is_refused_and_names_what_does_it(world_readable_copy):
    result = run_as_nobody(world_readable_copy, "container.py", "--net", "veth", "true")
    assert (result.returncode, result.stderr) == (
        125, "container.py: a veth pair needs root: its host end is in the host's network"
             " namespace, which an ordinary user may not change (rootless containers relay"
             " packets with slirp4netns or pasta instead)\n")


def test_net_none_works_rootless_with_lo_up(world_readable_copy):
    result = run_as_nobody(world_readable_copy, "container.py", "ip", "-br", "link")
    assert (result.returncode, result.stdout.split()[:2]) == (0, ["lo", "UNKNOWN"])


def test_net_host_shares_the_host_s_interfaces():
    libns.add_veth_pair("shared0", "shared1")  # besides lo, what a network of its own lacks
    try:
        result = subprocess.run([sys.executable, str(ROOT / "container.py"), "--net", "host",
                                 "cat", "/proc/net/dev"], capture_output=True, text=True,
                                env=stage_env(), timeout=TIMEOUT)
    finally:
        libns.delete_link("shared0")
    assert interfaces(result.stdout) == ["lo", "shared1", "shared0"]


def test_a_bad_net_or_subnet_is_125():
    for arguments, message in [(["--net", "bridge"], "--net bridge: it is none, veth or host"),
                               (["--net", "veth", "--subnet", "10.1.2.3/33"],
                                "--subnet 10.1.2.3/33: '10.1.2.3/33' does not appear to be an"
                                " IPv4 or IPv6 network")]:
        result = subprocess.run([sys.executable, str(ROOT / "container.py"), *arguments, "true"],
                                capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
        assert (result.returncode, result.stderr) == (125, f"container.py: {message}\n")

