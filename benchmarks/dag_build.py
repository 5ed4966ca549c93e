"""DAG building benchmark: Headrace workflow definitions against dag-factory 1.1.0, in the same run.

It writes ``--dags`` workflow definition files (200 by default) for Headrace and the same number of
equivalent dag-factory 1.1.0 YAML files (one DAG per file on both sides) into a temporary folder,
then times each side from files on disk to DAG objects in memory:

* Headrace: ``headrace.workflows.loader.load_folder(folder)`` (read, validate, plan, build);
* dag-factory: ``dagfactory.load_yaml_dags(globals_dict=..., dags_folder=folder)``, the call its
  documentation gives for a folder of YAML files;
* the pure-Airflow floor: the same DAGs built directly with ``DAG(...)`` and the three operators
  from the same parameters in memory (no files, no validation), as a hand-written DAG file with a
  loop would, passing the four DAG settings Headrace reads once per load (see
  ``headrace.workflows.builder.configured_defaults``) so that it is only Airflow's constructors:
  what no loader of these DAGs can go below.

Every DAG has the same three tasks on every side, ``extract >> transform >> publish`` (a
BashOperator, a PythonOperator and an EmptyOperator), the same schedule, start date, tags, flags and
default_args (owner, retries, retry_delay, execution_timeout, priority_weight). Before timing
anything the benchmark checks that all sides built exactly the same DAGs, tasks, operators,
dependencies and task arguments, and stops with an error otherwise.

Each side runs in its own fresh Python process (so none benefits from another's imports or
caches), with a temporary ``AIRFLOW_HOME`` and no database. Each process times its imports, then the
three are driven in turn: one warm-up load each (also reported: the first load in a process imports
the operator modules), then ``--repeat`` timed loads (5 by default) interleaved, Headrace, dag-factory,
the floor, so all see the same machine load. The medians of wall clock and of process CPU time
are reported. INFO logging is disabled in both processes (dag-factory logs two lines per file).

Then it times importing the workflow loader the way a DAG-parsing process does: in ``--repeat``
fresh processes that first import what every DAG file needs (``airflow.sdk``'s DAG and BaseOperator),
``import headrace.workflows.loader`` alone is timed, then building one DAG with a step of each
Headrace kind (Headrace's own operators), and the heavy modules the two pulled in are listed.

Goals (from issue 16): Headrace builds a DAG in at most 1.0 ms, at least 5x faster than dag-factory,
and the loader imports in under 0.5 s. The last lines are ``GOAL <name>: <measured> (goal <target>)
MET|NOT MET``; this is a report, not a test: the exit status is 0 whenever the measurement ran, and
non-zero only when setup failed or the sides differ.

Run from the repository root (dag-factory is the ``bench`` extra; ``make bench`` installs it)::

    .venv/bin/python -m benchmarks.dag_build [--dags 200] [--repeat 5] [--profile]

``--profile`` also prints the top 25 functions by cumulative time of one warm load of each side.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@dag_build "  # prefix of the per-side process's answers on stdout (anything else is ignored)
SIDES = ("headrace", "dag-factory", "airflow floor")
FILE_SIDES = SIDES[:2]  # the floor builds from the parameters in memory
DAG_FACTORY_VERSION = "1.1.0"
GOAL_MS_PER_DAG = 1.0
GOAL_RATIO = 5.0
GOAL_IMPORT_SECONDS = 0.5
HEAVY_MODULES = ("pyarrow", "pandas", "boto3", "botocore", "duckdb", "sqlglot", "pyiceberg", "deltalake")
# One definition with a step of each Headrace kind: building it constructs Headrace's own operators,
# which is what a parse of a real workflow DAG file pays on top of the loader import.
HEADRACE_STEPS = """\
id: probe_flow
schedule: "0 2 * * *"
start_date: 2026-01-01
steps:
  - {id: load, kind: ingest, source: {file_paths: "s3://raw/orders/*.csv", file_type: csv},
     target: {table: lake.sales.orders, write_mode: append}}
  - {id: model, kind: transform, depends_on: [load], target: lake.sales.daily,
     sql: "SELECT day, count(*) AS n FROM lake.sales.orders GROUP BY day"}
  - {id: quality, kind: check, depends_on: [model], table: lake.sales.daily,
     checks: [{type: unique, columns: [day]}, {type: row_count, min: 1}]}
"""
IMPORT_PROBE = f"""
import json, sys, tempfile, time
from pathlib import Path
from airflow.sdk import DAG, BaseOperator  # what parsing any DAG file imports first
before = set(sys.modules)
started = time.perf_counter()
import headrace.workflows.loader
seconds = time.perf_counter() - started
folder = Path(tempfile.mkdtemp())
(folder / "probe.yaml").write_text({HEADRACE_STEPS!r})
started = time.perf_counter()
result = headrace.workflows.loader.load_folder(folder)
build = time.perf_counter() - started
assert list(result.dags) == ["probe_flow"], result.problems
heavy = [m for m in {HEAVY_MODULES!r} if m in sys.modules and m not in before]
print({MARK!r} + json.dumps({{"seconds": seconds, "build": build, "heavy": heavy}}))
"""

BASH = "airflow.providers.standard.operators.bash.BashOperator"
PYTHON = "airflow.providers.standard.operators.python.PythonOperator"
EMPTY = "airflow.providers.standard.operators.empty.EmptyOperator"
CALLABLE = "builtins.print"  # any importable callable: the task is built, never run
TAGS = ["headrace-workflow", "priority:medium", "bench"]  # what Headrace adds, given to dag-factory too
PRIORITY_WEIGHT = 5  # Headrace's weight for the default priority (medium)
START = date(2026, 1, 1)


# --- The definitions: one DAG per file, the same on both sides ---------------------------------------


def workflow(i: int) -> dict[str, Any]:
    """The parameters of DAG number ``i``, varied a little so the files are not all alike."""
    return {
        "id": f"bench_{i:05d}",
        "name": f"Benchmark workflow {i}",
        "description": f"Benchmark workflow number {i}: extract, transform, publish.",
        "owner": f"team-{i % 7}",
        "schedule": f"{i % 60} {i % 24} * * *",
        "retries": i % 4,
        "retry_delay": 60 + 30 * (i % 5),
        "timeout": 3600,
        "bash_command": f"echo extract {i}",
        "op_kwargs": {"day": "{{ ds }}", "part": i},
    }


def headrace_definition(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": w["id"],
        "name": w["name"],
        "description": w["description"],
        "owner": w["owner"],
        "tags": ["bench"],
        "schedule": w["schedule"],
        "start_date": START,
        "configuration": {
            "max_retries": w["retries"],
            "retry_delay": w["retry_delay"],
            "timeout": w["timeout"],
        },
        "steps": [
            {"id": "extract", "kind": "bash", "bash_command": w["bash_command"]},
            {
                "id": "transform",
                "kind": "python",
                "callable": CALLABLE.replace(".", ":"),
                "op_kwargs": w["op_kwargs"],
                "depends_on": ["extract"],
            },
            {"id": "publish", "kind": "operator", "operator": EMPTY, "depends_on": ["transform"]},
        ],
    }


def dag_factory_definition(w: dict[str, Any]) -> dict[str, Any]:
    """The dag-factory 1.1.0 form: ``{dag_id: {DAG arguments, default_args, tasks}}``."""

    def seconds(value: int) -> dict[str, Any]:
        return {"__type__": "datetime.timedelta", "seconds": value}

    return {
        w["id"]: {
            "default_args": {
                "owner": w["owner"],
                "priority_weight": PRIORITY_WEIGHT,
                "retries": w["retries"],
                "retry_delay": seconds(w["retry_delay"]),
                "execution_timeout": seconds(w["timeout"]),
            },
            "dag_display_name": w["name"],
            "description": w["description"],
            "schedule": w["schedule"],
            "start_date": START,
            "catchup": False,
            "is_paused_upon_creation": True,
            "render_template_as_native_obj": True,
            "tags": list(TAGS),
            "tasks": [
                {"task_id": "extract", "operator": BASH, "bash_command": w["bash_command"]},
                {
                    "task_id": "transform",
                    "operator": PYTHON,
                    "python_callable": CALLABLE,
                    "op_kwargs": w["op_kwargs"],
                    "dependencies": ["extract"],
                },
                {"task_id": "publish", "operator": EMPTY, "dependencies": ["transform"]},
            ],
        }
    }


def write_definitions(root: Path, count: int) -> dict[str, Path]:
    folders = {side: root / side for side in FILE_SIDES}
    for folder in folders.values():
        folder.mkdir()
    for i in range(count):
        w = workflow(i)
        for side, data in (("headrace", headrace_definition(w)), ("dag-factory", dag_factory_definition(w))):
            text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
            (folders[side] / f"{w['id']}.yaml").write_text(text, encoding="utf-8")
    return folders


# --- One side, in its own process ---------------------------------------------------------------------


def _floor_loader(count: int) -> Any:
    """A function that builds the ``count`` DAGs straight from their parameters: Airflow alone."""
    from datetime import UTC, datetime, time, timedelta

    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG

    from headrace.workflows.builder import configured_defaults
    from headrace.workflows.plan import import_path

    python_callable = import_path(CALLABLE)
    start = datetime.combine(START, time(), tzinfo=UTC)
    workflows = [workflow(i) for i in range(count)]

    def load() -> dict[str, Any]:
        defaults = configured_defaults()
        dags = {}
        for w in workflows:
            default_args = {
                "owner": w["owner"],
                "priority_weight": PRIORITY_WEIGHT,
                "retries": w["retries"],
                "retry_delay": timedelta(seconds=w["retry_delay"]),
                "execution_timeout": timedelta(seconds=w["timeout"]),
            }
            with DAG(
                w["id"],
                dag_display_name=w["name"],
                description=w["description"],
                schedule=w["schedule"],
                start_date=start,
                catchup=False,
                is_paused_upon_creation=True,
                render_template_as_native_obj=True,
                tags=list(TAGS),
                default_args=default_args,
                auto_register=False,
                **defaults,
            ) as dag:
                extract = BashOperator(task_id="extract", bash_command=w["bash_command"])
                transform = PythonOperator(
                    task_id="transform", python_callable=python_callable, op_kwargs=dict(w["op_kwargs"])
                )
                extract >> transform >> EmptyOperator(task_id="publish")
            dags[dag.dag_id] = dag
        return dags

    return load


def _loader(side: str, folder: Path, count: int) -> Any:
    """A function that loads every DAG of ``folder`` (the floor: ``count`` DAGs) as ``{dag_id: DAG}``."""
    if side == "airflow floor":
        return _floor_loader(count)
    if side == "headrace":
        from headrace.workflows.loader import load_folder

        def load() -> dict[str, Any]:
            result = load_folder(folder)
            if result.problems:
                raise SystemExit(
                    "Headrace rejected definitions:\n" + "\n".join(map(str, result.problems[:10]))
                )
            return result.dags

        return load

    from airflow.sdk import DAG
    from dagfactory import load_yaml_dags

    def load() -> dict[str, Any]:
        namespace: dict[str, Any] = {}
        load_yaml_dags(globals_dict=namespace, dags_folder=str(folder), defaults_config_path=str(folder))
        return {dag.dag_id: dag for dag in namespace.values() if isinstance(dag, DAG)}

    return load


def _seconds(value: Any) -> float | None:
    return None if value is None else value.total_seconds()


def summarise(dags: dict[str, Any]) -> dict[str, Any]:
    """What must be the same on every side, as JSON-ready data."""
    summary = {}
    for dag_id, dag in sorted(dags.items()):
        tasks = {}
        for task in dag.tasks:
            callable_ = getattr(task, "python_callable", None)
            tasks[task.task_id] = {
                "operator": f"{type(task).__module__}.{type(task).__name__}",
                "upstream": sorted(task.upstream_task_ids),
                "owner": task.owner,
                "retries": task.retries,
                "retry_delay": _seconds(task.retry_delay),
                "execution_timeout": _seconds(task.execution_timeout),
                "priority_weight": task.priority_weight,
                "pool": task.pool,
                "bash_command": getattr(task, "bash_command", None),
                "python_callable": None
                if callable_ is None
                else f"{callable_.__module__}.{callable_.__name__}",
                "op_kwargs": getattr(task, "op_kwargs", None),
            }
        summary[dag_id] = {
            "display_name": dag.dag_display_name,
            "description": dag.description,
            "timetable": repr(dag.timetable),
            "start_date": dag.start_date.isoformat() if dag.start_date else None,
            "catchup": dag.catchup,
            "is_paused_upon_creation": dag.is_paused_upon_creation,
            "render_template_as_native_obj": dag.render_template_as_native_obj,
            "max_active_runs": dag.max_active_runs,
            "max_active_tasks": dag.max_active_tasks,
            "tags": sorted(set(dag.tags) - {"dagfactory"}),  # dag-factory tags its DAGs
            "tasks": tasks,
        }
    return summary


def _answer(data: Any) -> None:
    print(MARK + json.dumps(data), flush=True)


def serve_side(side: str, folder: Path, count: int) -> None:
    """The per-side process: time the imports, then answer ``load``, ``summary``, ``profile`` on stdin."""
    started = time.perf_counter()
    import airflow.sdk  # noqa: F401 - timed apart: what both sides need first

    airflow_import = time.perf_counter() - started
    started = time.perf_counter()
    load = _loader(side, folder, count)
    side_import = time.perf_counter() - started
    logging.disable(logging.INFO)
    _answer({"airflow_import": airflow_import, "side_import": side_import})
    dags: dict[str, Any] = {}
    for line in sys.stdin:
        command = line.strip()
        if command == "load":
            dags = {}
            gc.collect()  # the previous load's garbage is not this load's cost
            wall, cpu = time.perf_counter(), time.process_time()
            dags = load()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            _answer({"wall": wall, "cpu": cpu, "count": len(dags)})
        elif command == "summary":
            _answer(summarise(dags))
        elif command == "profile":
            import cProfile
            import io
            import pstats

            dags = {}
            gc.collect()
            profiler = cProfile.Profile()
            profiler.runcall(load)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            text = out.getvalue()
            _answer(text[text.find("   Ordered by") :].rstrip())
        elif command == "quit":
            return


# --- The comparison -----------------------------------------------------------------------------------


class BenchmarkError(Exception):
    pass


def child_environment(root: Path) -> dict[str, str]:
    """This environment without any Airflow settings, plus a scratch AIRFLOW_HOME and no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    (root / "airflow-home" / "dags").mkdir(parents=True)
    env.update(
        AIRFLOW_HOME=str(root / "airflow-home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(root / "airflow-home" / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY="False",
        DO_NOT_TRACK="1",
        SCARF_NO_ANALYTICS="true",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    )
    return env


class Side:
    """One side's own Python process, driven over stdin/stdout."""

    def __init__(self, side: str, folder: Path, count: int, env: dict[str, str], log: Path) -> None:
        self.side = side
        self.log = log
        self.loads: list[dict[str, float]] = []
        command = [sys.executable, "-m", "benchmarks.dag_build", "--side", side, "--folder", str(folder)]
        command += ["--dags", str(count)]
        self._stderr = log.open("w")
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.imports = self._read()
        self.imports["process_start"] = time.perf_counter() - started

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
        self.proc.wait()
        tail = self.log.read_text(errors="replace")[-4000:]
        raise BenchmarkError(f"the {self.side} process ended ({self.proc.returncode}):\n{tail}")

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # _read reports how the process ended
        return self._read()

    def load(self, expected: int) -> dict[str, float]:
        answer = self.ask("load")
        if answer["count"] != expected:
            raise BenchmarkError(f"{self.side} built {answer['count']} DAGs, expected {expected}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.communicate("quit\n", timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()


def compare(expected_count: int, summaries: dict[str, dict[str, Any]]) -> None:
    """Every side built ``expected_count`` DAGs of three tasks each, and the same ones; raise otherwise."""
    problems = []
    for side, summary in summaries.items():
        if len(summary) != expected_count:
            problems.append(f"{side} built {len(summary)} DAGs, expected {expected_count}")
        wrong = [dag_id for dag_id, dag in summary.items() if len(dag["tasks"]) != 3]
        if wrong:
            problems.append(f"{side}: {len(wrong)} DAG(s) without exactly 3 tasks, e.g. {wrong[0]}")
    ours = summaries["headrace"]
    for other in (side for side in summaries if side != "headrace"):
        theirs = summaries[other]
        if set(ours) != set(theirs):
            problems.append(
                f"different DAG ids (headrace, {other}), e.g. {sorted(set(ours) ^ set(theirs))[:3]}"
            )
        differing = [dag_id for dag_id in sorted(set(ours) & set(theirs)) if ours[dag_id] != theirs[dag_id]]
        if differing:
            a, b = ours[differing[0]], theirs[differing[0]]
            diff = {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}
            problems.append(f"{len(differing)} DAG(s) differ; {differing[0]} (headrace, {other}): {diff}")
    if problems:
        raise BenchmarkError("the sides did not build the same DAGs:\n  " + "\n  ".join(problems))


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on Linux/macOS
        return "n/a"


def time_loader_import(env: dict[str, str], repeat: int) -> list[dict[str, Any]]:
    """``repeat`` fresh processes, each timing ``import headrace.workflows.loader`` after airflow.sdk."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, env=env, capture_output=True, text=True
        )
        answers = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
        if done.returncode or not answers:
            raise BenchmarkError(f"the import probe failed ({done.returncode}):\n{done.stderr[-4000:]}")
        runs.append(json.loads(answers[-1][len(MARK) :]))
    return runs


def goal(name: str, measured: str, target: str, met: bool) -> str:
    return f"GOAL {name}: {measured} (goal {target}) {'MET' if met else 'NOT MET'}"


def report(count: int, repeat: int, sides: dict[str, Side], imports: list[dict[str, Any]]) -> list[str]:
    print(f"Building {count} DAGs (3 tasks each) from YAML files, one process per side; timed loads")
    print("interleaved (headrace, dag-factory, floor, ...) after 1 warm-up each; median of the timed loads;")
    print("the airflow floor builds the same DAGs with DAG(...) and the operators directly, from memory")
    print("-" * 100)
    runs = "".join(f"{f'run {i + 1}':>8}" for i in range(repeat))
    print(f"{'wall ms':22}{'warm-up':>8}{runs}{'median':>9}{'ms/DAG':>9}")
    medians: dict[str, dict[str, float]] = {}
    for clock in ("wall", "cpu"):
        for name, side in sides.items():
            warm_up, *timed = (load[clock] for load in side.loads)
            median = statistics.median(timed)
            medians.setdefault(clock, {})[name] = median
            label = name if clock == "wall" else f"{name} (CPU)"
            cells = "".join(f"{t * 1000:>8,.0f}" for t in timed)
            print(
                f"{label:22}{warm_up * 1000:>8,.0f}{cells}{median * 1000:>9,.0f}{median * 1000 / count:>9.3f}"
            )
    print("-" * 100)
    for name, side in sides.items():
        i = side.imports
        print(
            f"{name}: process start to ready {i['process_start']:.2f} s, of which imports "
            f"{i['airflow_import']:.2f} s airflow.sdk + {i['side_import']:.2f} s its own modules"
        )
    seconds = [run["seconds"] for run in imports]
    heavy = sorted({m for run in imports for m in run["heavy"]})
    print(
        "import headrace.workflows.loader after airflow.sdk (fresh processes), s: "
        + " ".join(f"{s:.3f}" for s in seconds)
    )
    print(
        "then the first DAG, with Headrace's ingest, transform and check operators, s: "
        + " ".join(f"{run['build']:.3f}" for run in imports)
        + f"; heavy modules imported by both: {', '.join(heavy) or 'none'}"
    )
    for clock, label in (("wall", "wall"), ("cpu", "CPU")):
        ours, floor = medians[clock]["headrace"], medians[clock]["airflow floor"]
        over = (ours - floor) * 1000 / count
        print(
            f"Headrace over the pure-Airflow floor ({label}): {over:+.3f} ms per DAG "
            f"(floor {floor * 1000 / count:.3f} ms, Headrace {ours / floor:.2f}x the floor)"
        )
    print("-" * 100)
    lines = []
    for clock, label in (("wall", "wall"), ("cpu", "CPU")):
        ours, theirs = medians[clock]["headrace"], medians[clock]["dag-factory"]
        per_dag, ratio = ours * 1000 / count, theirs / ours
        lines.append(
            goal(
                f"ms per DAG ({label})",
                f"{per_dag:.3f} ms",
                f"<= {GOAL_MS_PER_DAG} ms",
                per_dag <= GOAL_MS_PER_DAG,
            )
        )
        lines.append(
            goal(
                f"dag-factory / Headrace ({label})",
                f"{ratio:.2f}x (dag-factory {theirs * 1000 / count:.3f} ms per DAG)",
                f">= {GOAL_RATIO:g}x",
                ratio >= GOAL_RATIO,
            )
        )
    median = statistics.median(seconds)
    lines.append(
        goal("loader import", f"{median:.3f} s", f"< {GOAL_IMPORT_SECONDS} s", median < GOAL_IMPORT_SECONDS)
    )
    return lines


def _dag_factory_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dag-factory")
    except PackageNotFoundError:
        return None


def run(count: int, repeat: int, profile: bool) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="headrace-bench-dags-") as tmp:
        root = Path(tmp)
        folders = write_definitions(root, count)
        env = child_environment(root)
        sides: dict[str, Side] = {}
        try:
            for name in SIDES:
                folder = folders.get(name, root)
                sides[name] = Side(name, folder, count, env, root / f"{name.replace(' ', '-')}.log")
            for _ in range(repeat + 1):  # the first is the warm-up
                for side in sides.values():
                    side.loads.append(side.load(count))
            compare(count, {name: side.ask("summary") for name, side in sides.items()})
            profiles = {name: side.ask("profile") for name, side in sides.items()} if profile else {}
        finally:
            for side in sides.values():
                side.close()
        imports = time_loader_import(env, repeat)
    for name, text in profiles.items():
        print(f"--- profile of one warm {name} load (top 25 by cumulative time) ---\n{text}\n")
    return report(count, repeat, sides, imports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dags", type=int, default=200, help="DAGs (definition files) per side")
    parser.add_argument("--repeat", type=int, default=5, help="timed loads per side, after one warm-up")
    parser.add_argument("--profile", action="store_true", help="also profile one warm load of each side")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # the per-side process
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dags < 1 or args.repeat < 1:
        parser.error("--dags and --repeat must be at least 1")
    if args.side:
        serve_side(args.side, args.folder, args.dags)
        return 0

    installed = _dag_factory_version()
    if installed != DAG_FACTORY_VERSION:
        print(
            f"dag-factory {DAG_FACTORY_VERSION} is needed (found {installed}); install the bench extra:\n"
            "  .venv/bin/uv pip install --python .venv/bin/python -c constraints.txt "
            f"'dag-factory=={DAG_FACTORY_VERSION}'",
            file=sys.stderr,
        )
        return 1
    print(
        f"DAG building benchmark: Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
        f"dag-factory {installed}, {args.dags} DAGs, {args.repeat} run(s), load average {_load_average()}"
    )
    try:
        goals = run(args.dags, args.repeat, args.profile)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(f"load average at the end: {_load_average()}")
    print("\n".join(goals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
