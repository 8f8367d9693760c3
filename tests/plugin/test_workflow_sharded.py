"""The example sharded CI workflow agrees with our command line: its shards and its merge parse and fit."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from evalsuite import metrics, options, settings
from evalsuite.merge import build_parser
from evalsuite.sharding import Shard

yaml = pytest.importorskip("yaml")

assert metrics  # numpy and scipy imported once, before pytester's snapshot of sys.modules (no reload)

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "eval-sharded.yml"


def _expand(command: str, env: dict[str, str], matrix: dict[str, object]) -> list[str]:
    """The argv the runner's shell would run: ``${{ matrix.x }}``, ``${{ env.X }}`` and ``$X`` replaced."""
    command = re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str(matrix[m.group(1)]), command)
    command = re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: env[m.group(1)], command)
    assert "${{" not in command, f"unexpanded expression in {command!r}"
    command = re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], command)
    return shlex.split(command)


def _step(job: dict, starts: str) -> dict:
    return next(s for s in job["steps"] if str(s.get("run", "")).startswith(starts))


def test_every_matrix_job_runs_one_shard_of_the_same_split_and_uploads_it(pytester):
    workflow = yaml.safe_load(WORKFLOW.read_text())
    env = {k: str(v) for k, v in workflow["env"].items()}
    job = workflow["jobs"]["shard"]
    shards = job["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(env["SHARDS"]) + 1))
    run = _step(job, "evalsuite run")["run"]
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload.get("if") == "always()"
    root = Path(__file__).resolve().parents[2]
    for index in shards:
        argv = _expand(run, env, {"shard": index})
        assert argv[:2] == ["evalsuite", "run"]
        config = pytester.parseconfig(*argv[2:])
        config.invocation_params = config.InvocationParams(args=argv[2:], plugins=None, dir=root)
        resolved = settings.resolve(config)
        assert resolved.selection.shard == Shard(index, len(shards))
        assert not resolved.gates.min_score and resolved.gates.baseline is None  # gates belong to the merge
        assert _expand(upload["with"]["path"], env, {"shard": index}) == [f"reports/{resolved.output.run_id}"]
        assert _expand(upload["with"]["name"], env, {"shard": index}) == [f"shard-{index}"]


def test_the_merge_job_merges_every_uploaded_shard_with_valid_gates():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    env = {k: str(v) for k, v in workflow["env"].items()}
    job = workflow["jobs"]["merge"]
    assert job["needs"] == "shard" and "cancelled()" in job["if"]
    download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    argv = _expand(_step(job, "evalsuite merge")["run"], env, {})
    assert argv[:2] == ["evalsuite", "merge"]
    args = build_parser().parse_args(argv[2:])
    (pattern,) = args.run_dirs
    # download-artifact with a pattern puts each artifact in <path>/<artifact name>; the shell expands the glob.
    assert pattern.parent == Path(download["with"]["path"])
    names = [f"shard-{i}" for i in workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]]
    assert all(Path(download["with"]["path"], n).match(str(pattern)) for n in names)
    assert re.fullmatch(download["with"]["pattern"].replace("*", ".*"), names[0])
    options.check_values(lambda dest: getattr(args, dest, None))
    assert args.es_min_score, "the merged run is gated"
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert Path(upload["with"]["path"]) == args.out
