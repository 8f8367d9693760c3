"""Each containment of the code sandbox, proven by a program that tries to break it.

Where two layers guard the same thing (an audit hook in the child and the kernel), the test runs
with ``audit_hooks=False`` too, so that the kernel layer is proven on its own.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import os
import py_compile
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evalsuite.verify import _sandbox_child, sandbox
from evalsuite.verify.sandbox import SandboxError, SandboxLimits, run_solution

FAST = SandboxLimits(time_limit_s=10.0, memory_mb=256)  # generous: CI machines are loaded
AUDIT_AND_KERNEL = pytest.mark.parametrize("audit", [True, False], ids=["audit", "kernel-only"])
ROOT = os.geteuid() == 0


def run1(code: str, stdin: str = "", *, audit: bool = True, **limits: object) -> sandbox.SandboxRun:
    opts = {**FAST.__dict__, "audit_hooks": audit, **limits}
    return run_solution(code, [stdin], limits=SandboxLimits(**opts))  # type: ignore[arg-type]


def uid_processes(uid: int) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid and fields["State"].split()[0] != "Z":
            pids.append(int(pid))
    return pids


@pytest.fixture
def child_pids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pids (= process-group ids) of the sandbox children started during the test."""
    pids: list[int] = []

    class RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            pids.append(self.pid)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    return pids


def assert_group_gone(pgid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


# ---- fork bomb -----------------------------------------------------------------------------------


def test_fork_bomb_is_refused_by_the_audit_hook(child_pids: list[int]) -> None:
    run = run1("import os\nwhile True:\n    os.fork()")
    assert run.outcomes[0].status == "error"
    assert "os.fork is refused" in (run.outcomes[0].error or "")
    assert_group_gone(child_pids[0])


def test_fork_bomb_is_bounded_by_rlimit_nproc_without_hooks(child_pids: list[int]) -> None:
    # ctypes' fork() is invisible to audit hooks: only RLIMIT_NPROC stands in the way.
    bomb = (
        "import ctypes\nlibc = ctypes.CDLL(None)\nmade = failed = 0\n"
        "for _ in range(200):\n"
        "    pid = libc.fork()\n"
        "    if pid == 0:\n"
        "        while True: libc.pause()\n"
        "    made, failed = made + (pid > 0), failed + (pid < 0)\n"
        "print(made, failed)\n"
    )
    run = run1(bomb, audit=False, max_processes=8)
    if run.isolation.get("uid") == os.getuid() and run.isolation.get("network_namespace") is not True:
        pytest.skip("neither a private uid nor a user namespace: RLIMIT_NPROC counts all our processes")
    made, failed = map(int, run.outcomes[0].stdout.split())
    assert made < 8 and failed > 190
    assert_group_gone(child_pids[0])
    if ROOT:
        assert uid_processes(run.isolation["uid"]) == []


def test_children_that_leave_the_group_are_killed_by_uid() -> None:
    if not ROOT:
        pytest.skip("the per-run uid (and its sweep) needs the parent to run as root")
    escape = (
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        "if libc.fork() == 0:\n    libc.setsid()\n    while True: libc.pause()\nprint('parent done')\n"
    )
    run = run1(escape, audit=False)
    assert run.outcomes[0].stdout == "parent done\n"
    assert uid_processes(run.isolation["uid"]) == []


# ---- memory, time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hog",
    ["x = bytearray(2 * 1024**3)", "chunks = []\nwhile True:\n    chunks.append(b' ' * 10**6)"],
    ids=["one-block", "gradual"],
)
def test_memory_hog_gets_memory_error(hog: str) -> None:
    run = run1(hog, memory_mb=256, time_limit_s=10.0)
    assert run.outcomes[0].status == "error"
    assert run.outcomes[0].error is not None and run.outcomes[0].error.startswith("MemoryError")
    assert run.outcomes[0].time_s < 5


def test_infinite_loop_stops_at_the_limit_in_the_child(child_pids: list[int]) -> None:
    t0 = time.perf_counter()
    run = run1("while True:\n    pass", time_limit_s=0.5)
    assert run.outcomes[0].status == "timeout"
    assert 0.5 <= time.perf_counter() - t0 < 3
    assert_group_gone(child_pids[0])


def test_loop_ignoring_the_alarm_is_killed_by_the_parent_with_its_group(child_pids: list[int]) -> None:
    code = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"
    t0 = time.perf_counter()
    run = run_solution(code, ["", "", ""], limits=SandboxLimits(time_limit_s=0.5, max_timeouts=2))
    elapsed = time.perf_counter() - t0
    assert [o.status for o in run.outcomes] == ["timeout", "timeout", "skipped"]
    assert run.processes == 2  # a fresh child after the kill; then max_timeouts stops it
    assert elapsed < 2 * (0.5 + sandbox._GRACE_S) + 5  # two kills, two start-ups, a loaded machine
    for pgid in child_pids:
        assert_group_gone(pgid)


# ---- network --------------------------------------------------------------------------------------


@AUDIT_AND_KERNEL
def test_no_connection_to_the_host(audit: bool) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        port = server.getsockname()[1]
        code = (
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')"
        )
        run = run1(code, audit=audit)
        if not audit and run.isolation.get("network_namespace") is not True:
            pytest.skip(f"the kernel refused a network namespace: {run.isolation.get('network_namespace')}")
        assert run.outcomes[0].status == "error"
        assert (
            ("socket" in (run.outcomes[0].error or ""))
            if audit
            else "unreachable" in (run.outcomes[0].error or "")
        )
        with pytest.raises(TimeoutError):
            server.accept()


# ---- file system ----------------------------------------------------------------------------------


@AUDIT_AND_KERNEL
@pytest.mark.parametrize("place", ["/tmp", "/dev/shm"])
def test_writing_outside_the_directory_is_refused(place: str, audit: bool) -> None:
    # World-writable places: neither the private uid nor file permissions stand in the way.
    if not os.path.isdir(place):
        pytest.skip(f"no {place} here")
    target = Path(place) / f"evalsuite_escape_{uuid.uuid4().hex}"
    run = run1(
        f"open({str(target)!r}, 'w').write('escaped')",
        audit=audit,
    )
    if not audit:
        require_landlock(run)
    assert run.outcomes[0].status == "error"
    error = run.outcomes[0].error or ""
    assert ("outside the working directory" in error) if audit else "Permission denied" in error
    assert not target.exists()


def test_writing_into_root_owned_dirs_is_refused_by_the_kernel(tmp_path: Path) -> None:
    if not ROOT:
        pytest.skip("the kernel layer here is the private uid, which needs the parent to run as root")
    target = tmp_path / "escaped.txt"  # root-owned, not world-writable (unlike /tmp itself)
    run = run1(f"open({str(target)!r}, 'w').write('escaped')", audit=False)
    assert run.outcomes[0].error is not None and "Permission denied" in run.outcomes[0].error
    assert not target.exists()


def test_working_directory_is_private_and_removed() -> None:
    code = "import os\nopen('scratch.txt', 'w').write('ok')\nprint(os.getcwd())"
    run = run1(code)
    workdir = Path(run.outcomes[0].stdout.strip())
    assert workdir.name.startswith("evalsuite-sandbox-")
    assert not workdir.exists()


# ---- the file-system view: nothing of the host is readable outside the interpreter's install ------

PROJECT = Path(__file__).resolve().parents[2]
SECRET = "evalsuite-secret-7f3a"


def require_landlock(run: sandbox.SandboxRun) -> None:
    if not str(run.isolation.get("filesystem", "")).startswith("landlock"):
        pytest.skip(f"the kernel layer here is Landlock: {run.isolation.get('filesystem')}")


@pytest.fixture
def outside() -> Iterator[dict[str, Path]]:
    """Files and directories that exist outside the sandbox's working directory.

    The made ones are world-readable in a world-searchable sibling of the sandbox's own directory
    in /tmp, so that file permissions (the private uid) do not guard them: only the view does.
    """
    made = Path(tempfile.mkdtemp(prefix="evalsuite-outside-"))
    made.chmod(0o755)
    secret = made / "secret.txt"
    secret.write_text(SECRET)
    with contextlib.closing(sqlite3.connect(made / "cache.sqlite")) as db, db:
        db.execute("create table t (v)")
        db.execute("insert into t values (?)", (SECRET,))
    for path in (secret, made / "cache.sqlite"):
        path.chmod(0o644)
    found = {"tmp-file": secret, "sqlite": made / "cache.sqlite", "tmp-dir": made}
    found |= {"readme": PROJECT / "README.md", "project": PROJECT, "home": Path.home()}
    found |= {"etc-hostname": Path("/etc/hostname"), "etc": Path("/etc")}
    yield {name: path for name, path in found.items() if path.exists()}
    shutil.rmtree(made)


READERS = {
    "open": "print(open({path!r}).read())",
    "os.open": "import os\nprint(os.read(os.open({path!r}, os.O_RDONLY), 100))",
    "listdir": "import os\nprint(os.listdir({path!r}))",
    "scandir": "import os\nprint([e.name for e in os.scandir({path!r})])",
    "pathlib": "from pathlib import Path\np = Path({path!r})\nprint(list(p.iterdir()) if p.is_dir() else p.read_text())",
    "sqlite": "import sqlite3\nprint(sqlite3.connect({path!r}).execute('select * from t').fetchall())",
    # Native code raises no audit event: only the kernel layer stands in its way.
    "libc": (
        "import ctypes\nlibc = ctypes.CDLL(None)\nfd = libc.open({path!r}.encode(), 0)\n"
        "buf = ctypes.create_string_buffer(100)\nprint(fd, libc.read(fd, buf, 100), buf.value)"
    ),
}
ATTEMPTS = [
    ("open", "tmp-file"),
    ("os.open", "tmp-file"),
    ("pathlib", "tmp-file"),
    ("pathlib", "tmp-dir"),
    ("sqlite", "sqlite"),
    ("open", "readme"),
    ("open", "etc-hostname"),
    ("listdir", "home"),
    ("listdir", "project"),
    ("scandir", "tmp-dir"),
    ("listdir", "etc"),
]


@AUDIT_AND_KERNEL
@pytest.mark.parametrize(("reader", "target"), ATTEMPTS, ids=[f"{r}-{t}" for r, t in ATTEMPTS])
def test_reading_the_host_is_refused(reader: str, target: str, audit: bool, outside: dict[str, Path]) -> None:
    if target not in outside:
        pytest.skip(f"no {target} on this machine")
    path = str(outside[target])
    run = run1(READERS[reader].format(path=path), audit=audit)
    if not audit:
        require_landlock(run)
    out = run.outcomes[0]
    assert out.status == "error", out
    assert SECRET not in out.stdout and out.stdout == ""
    assert out.error is not None
    if audit:
        assert "sandbox: reading outside the working directory is refused" in out.error
    else:
        assert "Permission denied" in out.error or "unable to open database" in out.error


def test_native_code_cannot_read_the_host(outside: dict[str, Path]) -> None:
    run = run1(READERS["libc"].format(path=str(outside["tmp-file"])), audit=False)
    require_landlock(run)
    fd, count, data = run.outcomes[0].stdout.split(maxsplit=2)
    assert (int(fd), int(count)) == (-1, -1) and SECRET not in data


@AUDIT_AND_KERNEL
def test_everyday_programs_still_run(audit: bool) -> None:
    # What solutions do: the standard library (pure and extension modules), their own standard
    # streams by any name, scratch and temporary files (in the working directory), their own /proc.
    code = (
        "import bisect, collections, decimal, fractions, functools, heapq, itertools, json, math, os, re, sys\n"
        "import array, datetime, statistics, string, time, typing\n"
        "sys.setrecursionlimit(10**6)\n"
        "data = open('/dev/stdin').read().split()\n"
        "open('scratch.txt', 'w').write(' '.join(reversed(data)))\n"
        "print(open('scratch.txt').read(), sorted(os.listdir('.')) != [])\n"
        "print(heapq.nsmallest(2, map(int, data)), decimal.Decimal(1) / 4, time.localtime().tm_year > 2000)\n"
        "print(open('/proc/self/status').read().split()[0])\n"
        "import tempfile\nwith tempfile.TemporaryFile('w+') as f:\n    f.write('temp'); f.seek(0); print(f.read())\n"
    )
    run = run1(code, "3 1 2", audit=audit)
    assert run.outcomes[0].stdout == "2 1 3 True\n[1, 2] 0.25 True\nName:\ntemp\n", run.outcomes[0]


def test_landlock_is_active_where_the_kernel_has_it() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # landlock ABI version
    run = run1("print(1)")
    if abi < 0:
        assert "no Landlock" in run.isolation["filesystem"]
        pytest.skip(f"this kernel has no Landlock: {os.strerror(ctypes.get_errno())}")
    assert run.isolation["filesystem"] == f"landlock abi {abi}"


def test_readable_paths_hold_the_interpreter_not_the_project() -> None:
    readable = sandbox.readable_paths()
    assert any(Path(p) in Path(os.__file__).resolve().parents for p in readable)
    for forbidden in (PROJECT, Path.home(), Path("/etc"), Path("/")):
        assert str(forbidden) not in readable
        assert not any(Path(p) in forbidden.parents for p in readable), forbidden


# ---- secrets --------------------------------------------------------------------------------------


@AUDIT_AND_KERNEL
def test_parent_environment_is_invisible(audit: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    code = "import os\nprint(sorted(os.environ))\nprint(open(f'/proc/{os.getppid()}/environ').read())"
    run = run1(code, audit=audit)
    if not audit and not ROOT:
        pytest.skip("without a private uid only the audit hook guards /proc/<parent>/environ")
    out = run.outcomes[0]
    assert "OPENAI_API_KEY" not in out.stdout and "secret" not in out.stdout
    assert out.status == "error" and out.error is not None
    assert ("refused" in out.error) if audit else "Permission denied" in out.error


# ---- harness --------------------------------------------------------------------------------------


def test_cases_share_no_state_and_real_fds_work() -> None:
    code = (
        "import os, sys\ntry:\n    seen += 1\nexcept NameError:\n    seen = 0\n"
        "data = os.read(0, 100).decode()\nos.write(1, f'{seen} {data.strip()}\\n'.encode())"
    )
    run = run_solution(code, ["a", "b", "c"], limits=FAST)
    assert [o.stdout for o in run.outcomes] == ["0 a\n", "0 b\n", "0 c\n"]
    assert run.processes == 1


def test_big_stack_thread_idiom_works() -> None:
    code = (
        "import sys, threading\nthreading.stack_size(2**26)\nsys.setrecursionlimit(10**6)\n"
        "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
        "def main():\n    print(depth(int(input())))\nthreading.Thread(target=main).start()"
    )
    run = run_solution(code, ["100000"], limits=SandboxLimits(time_limit_s=5.0))
    assert run.outcomes[0].stdout == "100000\n", run.outcomes[0]


def test_output_is_bounded_by_rlimit_fsize() -> None:
    run = run1("import sys\nwhile True:\n    sys.stdout.write('x' * 10**6)", max_output_mb=4)
    assert run.outcomes[0].status == "error"
    assert "File too large" in (run.outcomes[0].error or "")


def test_safe_from_threads() -> None:
    def add(n: int) -> str:
        run = run_solution("print(int(input()) + 1)", [str(n)], limits=FAST)
        return run.outcomes[0].stdout

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(add, range(8))) == [f"{n + 1}\n" for n in range(8)]


def test_harness_failure_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with pytest.raises(SandboxError, match="could not start"):
        run_solution("print(1)", [""], limits=FAST)


def test_per_case_overhead_is_small() -> None:
    run = run_solution("print(input())", [str(i) for i in range(100)], limits=FAST)
    assert [o.stdout for o in run.outcomes] == [f"{i}\n" for i in range(100)]
    assert run.wall_s < 5, run.wall_s  # ~0.2 s on a 2-core machine; one process for all cases


def test_child_runs_from_its_bytecode_only_while_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = tmp_path / "child.pyc"
    monkeypatch.setattr(_sandbox_child, "__cached__", str(cached))
    assert sandbox.child_program() == sandbox.CHILD_SCRIPT  # nothing cached (as with PYTHONDONTWRITEBYTECODE)
    py_compile.compile(
        sandbox.CHILD_SCRIPT,
        cfile=str(cached),
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
    )
    assert sandbox.child_program() == str(cached)
    assert (
        run_solution("print(input())", ["from bytecode"], limits=FAST).outcomes[0].stdout == "from bytecode\n"
    )
    stale = cached.read_bytes()
    cached.write_bytes(stale[:8] + bytes(4) + stale[12:])  # compiled from a source of another mtime
    assert sandbox.child_program() == sandbox.CHILD_SCRIPT


def test_child_script_imports_the_standard_library_only() -> None:
    # The child runs by path with `python -I`: an import of the package (or of anything installed)
    # would fail there or slow every start-up.
    tree = ast.parse(Path(sandbox.CHILD_SCRIPT).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported, "no imports found: the check would prove nothing"
    assert {m.split(".")[0] for m in imported} <= set(sys.stdlib_module_names) | {"__future__"}
