"""Property tests for the /proc parsers, over the input shapes kernels produce."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.hostmetrics.collectors.diskstats import _COUNTERS, parse_diskstats
from agent.hostmetrics.collectors.filesystem import parse_mounts
from agent.hostmetrics.collectors.meminfo import parse_meminfo
from agent.hostmetrics.collectors.netdev import parse_net_dev
from agent.hostmetrics.collectors.netstat import parse_netstat, parse_snmp6
from agent.hostmetrics.collectors.pressure import parse_psi
from agent.hostmetrics.collectors.sockstat import parse_sockstat
from agent.hostmetrics.collectors.softnet import parse_softnet
from agent.hostmetrics.collectors.stat import CPU_FIELDS, USER_HZ, parse_proc_stat
from agent.hostmetrics.collectors.udp_queues import parse_udp_queues

FAST = settings(max_examples=80, deadline=None)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
u32 = st.integers(min_value=0, max_value=2**32 - 1)
devname = st.from_regex(r"\A[a-z][a-z0-9]{0,11}\Z")


@FAST
@given(
    st.lists(
        st.tuples(u32, u32, devname, st.sampled_from([4, 11, 15, 17, 18]), st.data()), max_size=6
    )
)
def test_diskstats_counter_counts(rows):
    lines, expected = [], []
    for major, minor, dev, n, data in rows:
        vals = data.draw(st.lists(u64, min_size=n, max_size=n))
        lines.append(f"{major:>4} {minor:>7} {dev} " + " ".join(map(str, vals)))
        expected.append((major, minor, dev, n, vals))
    parsed = parse_diskstats("\n".join(lines) + "\n")
    assert len(parsed) == len(expected)
    for d, (major, minor, dev, n, vals) in zip(parsed, expected):
        assert (d.major, d.minor, d.device) == (major, minor, dev)
        present = [i for i, v in enumerate(d.values) if v is not None]
        if n == 4:  # old partition lines: reads, sectors read, writes, sectors written
            assert present == [0, 2, 4, 6]
            assert d.values[2] == vals[1] * 512.0 and d.values[4] == float(vals[2])
        else:
            assert present == list(range(min(n, len(_COUNTERS))))
            assert d.values[0] == float(vals[0])
            assert d.values[2] == vals[2] * 512.0  # sectors → bytes
            assert d.values[3] == vals[3] * 1e-3  # ms → s
            assert d.values[8] == float(vals[8])  # io_now is not scaled


@pytest.mark.parametrize("n", [0, 3, 5, 10])
def test_diskstats_rejects_impossible_lengths(n):
    with pytest.raises(ValueError):
        parse_diskstats("8 0 sda " + " ".join(["1"] * n) + "\n")


meminfo_key = st.from_regex(r"\A[A-Z][A-Za-z0-9_]{0,15}\Z")


@FAST
@given(
    st.lists(
        st.tuples(meminfo_key, st.sampled_from(["", "(anon)", "(file)"]), u64, st.booleans()),
        max_size=20,
    ),
    st.booleans(),
)
def test_meminfo_lines(rows, blank_lines):
    text = ""
    for key, paren, value, kb in rows:
        text += f"{key}{paren}:{' ' * 5}{value}{' kB' if kb else ''}\n"
        if blank_lines:
            text += "\n"
    parsed = parse_meminfo(text)
    assert len(parsed) == len(rows)
    for (name, v), (key, paren, value, kb) in zip(parsed, rows):
        base = key + ("_" + paren[1:-1] if paren else "")
        assert name == base + ("_bytes" if kb else "")
        assert v == float(value) * (1024 if kb else 1)


@pytest.mark.parametrize(
    "line", ["MemTotal 12 kB", "MemTotal: 12 kB extra", "MemTotal: abc kB", "MemTotal:"]
)
def test_meminfo_rejects_bad_lines(line):
    with pytest.raises(ValueError):
        parse_meminfo(line + "\n")


ifname = st.from_regex(r"\A[a-z][a-z0-9._:-]{0,14}\Z").filter(lambda s: not s.endswith(":"))


@FAST
@given(
    st.lists(
        st.tuples(ifname, st.lists(u64, min_size=16, max_size=16)),
        max_size=5,
        unique_by=lambda r: r[0],
    ),
    st.booleans(),
)
def test_net_dev(rows, glued):
    text = (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|"
        "bytes    packets errs drop fifo colls carrier compressed\n"
    )
    for name, vals in rows:
        sep = ":" if glued else ": "
        text += f"{name:>6}{sep}" + " ".join(map(str, vals)) + "\n"
    parsed = parse_net_dev(text)
    assert [p[0] for p in parsed] == [r[0] for r in rows]
    for (_, stats), (_, vals) in zip(parsed, rows):
        assert stats["receive_bytes"] == float(vals[0])
        assert stats["receive_multicast"] == float(vals[7])
        assert stats["transmit_colls"] == float(vals[13])
        assert stats["transmit_compressed"] == float(vals[15])
        assert len(stats) == 16


def test_net_dev_follows_its_header():
    text = (
        "Inter-|   Receive        |  Transmit\n"
        " face |bytes    packets  |bytes    packets newcol\n"
        "  eth0: 1 2 3 4 5\n"
    )
    assert parse_net_dev(text) == [
        (
            "eth0",
            {
                "receive_bytes": 1.0,
                "receive_packets": 2.0,
                "transmit_bytes": 3.0,
                "transmit_packets": 4.0,
                "transmit_newcol": 5.0,
            },
        )
    ]
    with pytest.raises(ValueError):
        parse_net_dev(text.replace("1 2 3 4 5", "1 2 3"))


@FAST
@given(
    st.lists(
        st.tuples(st.integers(0, 4095), st.integers(4, 10), st.data()),
        max_size=4,
        unique_by=lambda r: r[0],
    ),
    u64,
    u64,
)
def test_proc_stat(cpus, ctxt, btime):
    lines = ["cpu  1 2 3 4 5 6 7 8 9 10"]
    expected = []
    for num, n, data in cpus:
        vals = data.draw(st.lists(st.integers(0, 2**53), min_size=n, max_size=n))
        lines.append(f"cpu{num} " + " ".join(map(str, vals)))
        expected.append((str(num), tuple(v / USER_HZ for v in vals)))
    lines += [
        "intr 5 1 2 3",
        f"ctxt {ctxt}",
        f"btime {btime}",
        "processes 7",
        "procs_running 2",
        "procs_blocked 1",
        "softirq 1 2 3",
    ]
    s = parse_proc_stat("\n".join(lines) + "\n")
    assert list(s.cpus) == expected
    assert all(len(t) <= len(CPU_FIELDS) for _, t in s.cpus)
    assert (s.ctxt, s.btime, s.intr, s.processes, s.procs_running, s.procs_blocked) == (
        ctxt,
        btime,
        5,
        7,
        2,
        1,
    )


field = st.from_regex(r"\A[A-Z][A-Za-z0-9]{0,12}\Z")


@FAST
@given(
    st.dictionaries(
        st.from_regex(r"\A[A-Z][a-zA-Z]{1,6}\Z"),
        st.dictionaries(field, st.integers(-(2**63), 2**64 - 1), min_size=1, max_size=6),
        max_size=4,
    )
)
def test_netstat_pairs(protocols):
    text = ""
    for proto, fields in protocols.items():
        text += f"{proto}: " + " ".join(fields) + "\n"
        text += f"{proto}: " + " ".join(str(v) for v in fields.values()) + "\n"
    assert parse_netstat(text) == {
        p: {k: str(v) for k, v in f.items()} for p, f in protocols.items()
    }


def test_netstat_and_snmp6_errors():
    with pytest.raises(ValueError):
        parse_netstat("Tcp: A B\nTcp: 1\n")
    with pytest.raises(ValueError):
        parse_netstat("Tcp: A B\nUdp: 1 2\n")
    assert parse_snmp6("Ip6InOctets  128\nUdpLite6InErrors 3\nnosix 1\n\n") == {
        "Ip6": {"InOctets": "128"},
        "UdpLite6": {"InErrors": "3"},
    }


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["TCP", "UDP", "FRAG", "RAW6", "UDPLITE"]),
            st.dictionaries(
                st.sampled_from(["inuse", "orphan", "tw", "alloc", "mem", "memory"]),
                u32,
                min_size=1,
            ),
        ),
        max_size=5,
        unique_by=lambda r: r[0],
    ),
    st.one_of(st.none(), u32),
)
def test_sockstat(protocols, used):
    text = "" if used is None else f"sockets: used {used}\n"
    for proto, kv in protocols:
        text += f"{proto}: " + " ".join(f"{k} {v}" for k, v in kv.items()) + "\n"
    got_used, got = parse_sockstat(text)
    assert got_used == used
    assert got == [(p, kv) for p, kv in protocols]


@FAST
@given(st.lists(st.lists(u32, min_size=3, max_size=13), max_size=8))
def test_softnet(rows):
    text = "".join(" ".join(f"{v:08x}" for v in row) + "\n" for row in rows)
    parsed = parse_softnet(text)
    for i, ((cpu, cols), row) in enumerate(zip(parsed, rows)):
        assert cols == row
        assert cpu == (str(row[12]) if len(row) > 12 else str(i))


@FAST
@given(st.dictionaries(st.sampled_from(["some", "full"]), st.integers(0, 2**63)))
def test_psi(lines):
    text = "".join(f"{k} avg10=0.00 avg60=1.50 avg300=2.25 total={v}\n" for k, v in lines.items())
    assert parse_psi(text) == {k: float(v) for k, v in lines.items()}


path_text = st.text(
    st.characters(codec="utf-8", blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
)


@FAST
@given(st.lists(path_text, min_size=1, max_size=4))
def test_mount_point_escapes(names):
    def esc(s):  # what the kernel does (fs/proc_namespace.c mangle: " \t\n\\")
        return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in s)

    text = "".join(f"dev{i} /{esc(n)} ext4 rw 0 0\n" for i, n in enumerate(names))
    assert [m.mountpoint for m in parse_mounts(text)] == [f"/{n}" for n in names]


@FAST
@given(st.lists(st.tuples(u32, u32), max_size=6))
def test_udp_queues(sockets):
    text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    for i, (tx, rx) in enumerate(sockets):
        text += f"  {i}: 0100007F:0035 00000000:0000 07 {tx:08X}:{rx:08X} 00:00000000 00000000 0 0 1 2\n"
    assert parse_udp_queues(text) == (sum(t for t, _ in sockets), sum(r for _, r in sockets))
