"""Each containment of the code sandbox, proven by a program that tries to break it.

Where two layers guard the same thing (an audit hook in the child and the kernel), the test runs
with ``audit_hooks=False`` too, so that the kernel layer is proven on its own.
"""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evalsuite.verify import sandbox
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


def test_writing_outside_the_directory_is_refused() -> None:
    target = Path(f"/tmp/evalsuite_escape_{uuid.uuid4().hex}")
    run = run1(f"open({str(target)!r}, 'w').write('escaped')")
    assert run.outcomes[0].status == "error"
    assert "outside the working directory" in (run.outcomes[0].error or "")
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


def test_child_script_imports_the_standard_library_only() -> None:
    # The child runs by path with `python -I`: an import of the package (or of anything installed)
    # would fail there or slow every start-up.
    tree = ast.parse(Path(sandbox.CHILD_SCRIPT).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported, "no imports found: the check would prove nothing"
    assert {m.split(".")[0] for m in imported} <= set(sys.stdlib_module_names) | {"__future__"}
