"""deploy/ checked without a Docker engine or a Kubernetes cluster.

What runs here: every YAML, JSON, XML and env file parses; the compose file validates against the
compose-spec JSON schema (vendored by check-jsonschema) and the Kubernetes manifests against the
Kubernetes API's JSON schemas in strict mode (vendored by kubernetes-validate), with no network;
the stack's wiring holds (loopback-only ports, pinned images, start order, per-worker state and
ports, selectors, Secret keys, probe ports); every TRACECODE_* variable is a real setting and
every service's environment loads into the settings and its component config; every command is
a real CLI command; every metric and label the dashboard and the alert rules use is one the
worker or the sink exports. `docker compose config` and `kubectl kustomize` run too when those
tools are installed (skipped otherwise). What no test here can show: that the images pull, the
containers start and the cluster forms; see deploy/README.md.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

import streams.runtime.app
import streams.runtime.web
from api.app import create_app
from api.config import ApiConfig
from sinks.health import SinkHealth
from sinks.metrics import SinkMetrics
from sinks.monitoring import monitoring_app
from streams.runtime.metrics import JoinMetrics
from tracecode.broker import KAFKA_VERSION
from tracecode.cli import main
from tracecode.settings import Settings, describe_settings, load_settings
from webhooks.metrics import WebhookMetrics

ROOT = Path(__file__).parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
K8S = DEPLOY / "k8s"
MONITORING = DEPLOY / "monitoring"
PROMETHEUS_COMPOSE = MONITORING / "prometheus" / "prometheus.yml"
PROMETHEUS_K8S = MONITORING / "prometheus" / "kubernetes-scrape.yml"
RULES = MONITORING / "prometheus" / "rules" / "tracecode.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "tracecode.json"

KUBERNETES_VERSION = "1.30"
"""Oldest Kubernetes release the manifests are written for."""
TRACECODE_IMAGE = "tracecode"
"""Image name of the tracecode containers in deploy/k8s (kustomize's images: sets the tag)."""
EXTERNAL_SECRETS = {"kafka-cluster-ca"}
"""Secrets the operator provides that deploy/k8s does not template (documented in config.env)."""
TARGET_LABELS = {"job", "instance", "namespace", "pod"}
"""Labels Prometheus adds to every scraped series (namespace, pod: kubernetes-scrape.yml)."""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TRACECODE_* variable or .env of the caller leaks into the settings loaded here."""
    for name in list(os.environ):
        if name.startswith("TRACECODE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# -- reading the files ---------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (compose env_file, kustomize envs, .env)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"{path}:{number}: not KEY=VALUE"
        values[key] = value
    return values


def example_env() -> dict[str, str]:
    """deploy/compose/.env.example with every empty value filled in, as an operator would."""
    filled = {}
    for key, value in read_env_file(COMPOSE_DIR / ".env.example").items():
        filled[key] = value or (
            "MkU3OEVCNTcwNTJENDM2Qk" if key == "KAFKA_CLUSTER_ID" else "filled-in-by-the-operator"
        )
    return filled


_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation (${VAR}, ${VAR:-default}, ${VAR:?error}, $$)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        value = env.get(name, "")
        if operator in (":?", "?") and not value:
            raise AssertionError(f"${{{name}}} is required: {argument}")
        if operator in (":-", "-") and not value:
            return str(argument)
        return value

    return _INTERPOLATION.sub(replace, text)


def compose_file() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose_file()["services"]
    return services


def is_tracecode_service(service: Mapping[str, Any]) -> bool:
    return "APP_IMAGE" in str(service.get("image", ""))


def tracecode_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose_services().items() if is_tracecode_service(s)}


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A compose service's environment: its env files, then its environment entries."""
    env = example_env()
    files = service.get("env_file", [])
    values: dict[str, str] = {}
    for name in [files] if isinstance(files, str) else files:
        values.update(read_env_file(COMPOSE_DIR / name))
    entries = service.get("environment", {})
    if isinstance(entries, list):
        entries = dict(entry.partition("=")[::2] for entry in entries)
    for key, value in entries.items():
        values[key] = interpolate(str(value), env)
    return values


def host_port(mapping: Any) -> tuple[str, int, int]:
    """(host address, host port, container port) of a compose port entry."""
    if isinstance(mapping, dict):
        return str(mapping.get("host_ip", "")), int(mapping["published"]), int(mapping["target"])
    parts = str(mapping).split(":")
    assert len(parts) == 3, f"port {mapping!r} must name the host address: 127.0.0.1:HOST:CONTAINER"
    return parts[0], int(parts[1]), int(parts[2])


def k8s_documents() -> list[dict[str, Any]]:
    """The resources the kustomization lists, as written."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    documents = []
    for name in kustomization["resources"]:
        documents += [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    return documents


def pod_specs() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) of every workload in deploy/k8s."""
    for doc in k8s_documents():
        if doc["kind"] in ("StatefulSet", "Deployment", "Job"):
            yield doc, doc["spec"]["template"]


def tracecode_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for workload, template in pod_specs():
        for container in template["spec"]["containers"]:
            if container["image"] == TRACECODE_IMAGE and "args" in container:
                yield f"{workload['metadata']['name']}/{container['name']}", container


def secret_template() -> dict[str, Any]:
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    assert isinstance(secret, dict)
    return secret


def container_environment(container: Mapping[str, Any]) -> dict[str, str]:
    """A container's environment as the kubelet builds it, with placeholder secrets."""
    env = read_env_file(K8S / "config.env")
    fields = {"metadata.name": "tracecode-worker-0", "metadata.namespace": "tracecode"}

    def expand(match: re.Match[str]) -> str:
        return env.get(match.group(1), match.group(0))

    for entry in container.get("env", []):
        if "value" in entry:
            value = re.sub(r"\$\((\w+)\)", expand, entry["value"])
        elif "fieldRef" in entry["valueFrom"]:
            value = fields[entry["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            value = "placeholder-secret-value"
        env[entry["name"]] = value
    return env


def known_settings() -> set[str]:
    return {row.env_var for row in describe_settings(Settings())}


def config_for(settings: Settings, args: list[str]) -> object:
    """Build the component config the command ``args`` will build, so a bad value shows here."""
    if args[:1] == ["worker"]:
        return settings.worker_config()
    if args[:1] == ["sink"]:
        return settings.sink_config()
    if args[:2] == ["topics", "apply"]:
        return settings.topics_config()
    if args[:1] == ["webhooks"]:
        return settings.webhooks_config()
    if args[:1] == ["api"]:
        return settings.api_config([])
    raise AssertionError(f"no config known for command {args}")


def load_with(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> Settings:
    for key, value in env.items():
        if key.startswith("TRACECODE_"):
            monkeypatch.setenv(key, value)
    return load_settings()


# -- every file --------------------------------------------------------------------------


def test_every_deploy_file_parses() -> None:
    checked = []
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix in (".yaml", ".yml"):
            list(yaml.safe_load_all(path.read_text()))
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".xml":
            ET.parse(path)
        elif path.suffix == ".env" or path.name.endswith(".env.example"):
            read_env_file(path)
        else:
            continue
        checked.append(path.relative_to(DEPLOY))
    assert len(checked) >= 15, checked


def test_deploy_uses_only_real_settings() -> None:
    known = known_settings()
    unknown = set()
    for path in DEPLOY.rglob("*"):
        if not path.is_file():
            continue
        for name in re.findall(r"\bTRACECODE_[A-Z0-9_]+", path.read_text(errors="replace")):
            if name.endswith("_"):  # a prefix, e.g. "TRACECODE_KAFKA_* settings"
                ok = any(setting.startswith(name) for setting in known)
            else:
                ok = name in known
            if not ok:
                unknown.add(f"{path.relative_to(ROOT)}: {name}")
    assert not unknown, f"not settings of tracecode.settings: {sorted(unknown)}"


def readme_commands() -> list[list[str]]:
    """`tracecode ...` command lines in the code blocks of deploy/'s READMEs."""
    commands = []
    for readme in DEPLOY.rglob("README.md"):
        for block in re.findall(r"```\w*\n(.*?)```", readme.read_text(), re.S):
            for line in block.splitlines():
                match = re.match(r"\s*(?:[A-Z_]+=\S+\s+)*tracecode\s+(.*)", line)
                if match:
                    commands.append(match.group(1).split("#")[0].split())
    return commands


def test_commands_exist_in_the_cli() -> None:
    commands = [s["command"] for s in tracecode_services().values()]
    commands += [container["args"] for _, container in tracecode_containers()]
    commands += readme_commands()
    assert len(commands) >= 12
    for args in commands:
        command: click.Command = main
        for token in args:
            if token.startswith("-"):
                break
            assert isinstance(command, click.Group), f"{args}: {token!r} follows a command"
            sub = command.commands.get(token)
            assert sub is not None, f"`tracecode {' '.join(args)}`: no command {token!r}"
            command = sub
        if isinstance(command, click.Group):
            assert command.invoke_without_command, f"`tracecode {' '.join(args)}` needs more"
        result = CliRunner().invoke(main, [*args, "--help"])
        assert result.exit_code == 0, result.output


def test_health_and_metrics_paths_exist_in_the_worker() -> None:
    pages = set(re.findall(r"@app\.page\(\"([^\"{]+)\"", inspect.getsource(streams.runtime.web)))
    assert 'pattern="/metrics"' in inspect.getsource(streams.runtime.app)
    used = set()
    for service in compose_services().values():
        if service.get("command") == ["worker"]:
            used |= set(re.findall(r":\d+(/[\w/]+)", str(service["healthcheck"]["test"])))
    for _, container in tracecode_containers():
        if container["args"][:1] != ["worker"]:
            continue
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if "httpGet" in container.get(probe, {}):
                used.add(container[probe]["httpGet"]["path"])
    assert used, "no worker health check found"
    assert used <= pages, f"health paths the worker does not serve: {used - pages}"


def test_the_sink_is_probed_on_its_health_paths() -> None:
    used = set()
    for service in compose_services().values():
        if service.get("command") == ["sink"]:
            used |= set(re.findall(r":\d+(/[\w/]+)", str(service["healthcheck"]["test"])))
    for _, container in tracecode_containers():
        if container["args"] == ["sink"]:
            used |= {
                container[probe]["httpGet"]["path"]
                for probe in ("startupProbe", "livenessProbe", "readinessProbe")
            }
    assert used == {"/health", "/health/live"}
    app = monitoring_app(SinkMetrics(), SinkHealth(unreachable_after=30.0))
    for path in used:
        body = b"".join(app({"PATH_INFO": path}, lambda status, headers: None))
        assert json.loads(body)["status"] == "starting", f"the sink does not serve {path}"


def test_image_build_installs_the_whole_project() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    packages = [p.rstrip("*") for p in setuptools["packages"]["find"]["include"]]
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for package in packages:
        assert f"COPY {package}/ {package}/" in dockerfile, f"the image misses {package}/"
        assert f"!{package}/" in ignore, f"Dockerfile.dockerignore excludes {package}/"
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", dockerfile)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), base
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M), "the image must not run as root"
    assert "pip install ." in dockerfile and "pip install -e" not in dockerfile
    assert "COPY pyproject.toml setup.py" in dockerfile and "!setup.py" in ignore
    # mypyc (setup.py) needs a C compiler where the image is built.
    assert re.search(r"apt-get install .*\bgcc\b", dockerfile), "the build stage needs gcc"
    assert "**/*.so" in ignore, "in-place compiled modules must not enter the image"

    # A regular install carries only the package data pyproject declares: every other file the
    # packages need at run time (schemas, SQL) must be declared, or the image breaks.
    package_data: dict[str, list[str]] = setuptools.get("package-data", {})
    missing = []
    for package in packages:
        for path in (ROOT / package).rglob("*"):
            # .so: modules an editable install compiled in place (git-ignored build output).
            built = path.suffix in (".py", ".pyc", ".so") or "__pycache__" in path.parts
            if not path.is_file() or built:
                continue
            relative = path.relative_to(ROOT / package).as_posix()
            if not any(fnmatch(relative, glob) for glob in package_data.get(package, [])):
                missing.append(f"{package}/{relative}")
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


# -- compose -----------------------------------------------------------------------------


def test_compose_file_follows_the_compose_spec() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_publishes_ports_on_loopback_only() -> None:
    for name, service in compose_services().items():
        for mapping in service.get("ports", []):
            address, _, _ = host_port(mapping)
            assert address == "127.0.0.1", f"{name} publishes {mapping!r} beyond loopback"


def test_compose_images_are_pinned() -> None:
    for name, service in compose_services().items():
        image = interpolate(str(service["image"]), example_env())
        assert re.search(r":\w*\d[\w.-]*$", image), f"{name}: {image} has no version tag"
    for name, service in tracecode_services().items():
        build = service["build"]
        assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        ), name
    kafka = {s["image"] for s in compose_services().values() if "apache/kafka" in s["image"]}
    assert kafka == {f"apache/kafka:{KAFKA_VERSION}"}, "use the Kafka version tracecode pins"


def test_compose_start_order() -> None:
    services = compose_services()
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{target} needs a healthcheck"
            if condition["condition"] == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} must run once"
    kafka = {name for name, s in services.items() if "apache/kafka" in s["image"]}
    by_command = {tuple(s["command"]): n for n, s in tracecode_services().items() if "command" in s}
    topics, migrate = by_command[("topics", "apply")], by_command[("sink", "migrate")]
    assert set(services[topics]["depends_on"]) == kafka
    assert "clickhouse" in services[migrate]["depends_on"]
    for name, service in tracecode_services().items():
        if service["command"] in (["worker"], ["sink"]):
            assert service["depends_on"][topics] == {"condition": "service_completed_successfully"}
            assert "healthcheck" in service, f"{name} has no healthcheck"
    assert services[by_command[("sink",)]]["depends_on"][migrate] == {
        "condition": "service_completed_successfully"
    }


def test_compose_kafka_cluster_is_replicated() -> None:
    brokers = {n: s for n, s in compose_services().items() if "apache/kafka" in s["image"]}
    assert len(brokers) == 3
    env = example_env()
    ids = set()
    for name, broker in brokers.items():
        settings = {k: interpolate(str(v), env) for k, v in broker["environment"].items()}
        ids.add(settings["KAFKA_NODE_ID"])
        voters = settings["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert voters == [f"{i}@{n}:9093" for i, n in enumerate(sorted(brokers), start=1)]
        for key in (
            "KAFKA_DEFAULT_REPLICATION_FACTOR",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        ):
            assert settings[key] == "3", f"{name}: {key}"
        assert settings["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert settings["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        advertised = settings["KAFKA_ADVERTISED_LISTENERS"]
        external = re.search(r"EXTERNAL://127\.0\.0\.1:(\d+)", advertised)
        assert external, f"{name} advertises no EXTERNAL listener for the host"
        published = [host_port(p)[1:] for p in broker["ports"]]
        assert published == [(int(external.group(1)), int(external.group(1)))], name
    assert ids == {"1", "2", "3"}
    shared = read_env_file(COMPOSE_DIR / "tracecode.env")
    assert shared["TRACECODE_TOPICS_REPLICATION_FACTOR"] == "3"
    assert shared["TRACECODE_TOPICS_MIN_INSYNC_REPLICAS"] == "2"
    assert shared["TRACECODE_KAFKA_BOOTSTRAP_SERVERS"].split(",") == [
        f"{name}:9092" for name in sorted(brokers)
    ]


def test_compose_workers_have_their_own_state_and_web_port() -> None:
    workers = {n: s for n, s in tracecode_services().items() if s["command"] == ["worker"]}
    assert len(workers) == 2
    seen: dict[str, set[str]] = {"id": set(), "volume": set(), "port": set()}
    targets = set()
    for name, worker in workers.items():
        env = service_environment(worker)
        host, port = env["TRACECODE_WORKER_WEB_HOST"], env["TRACECODE_WORKER_WEB_PORT"]
        assert host == worker["hostname"], f"{name}: the announced URL must resolve to it"
        assert [host_port(p)[1:] for p in worker["ports"]] == [(int(port), int(port))]
        assert f"http://{host}:{port}/" in " ".join(worker["healthcheck"]["test"])
        (volume,) = worker["volumes"]
        source, target = volume.split(":")
        assert target == env["TRACECODE_DATA_DIR"], f"{name}: state must be on the volume"
        for key, value in (("id", env["TRACECODE_WORKER_ID"]), ("volume", source), ("port", port)):
            assert value not in seen[key], f"{name} shares its {key} {value}"
            seen[key].add(value)
        targets.add(f"{host}:{port}")
    scrape = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert set(jobs["tracecode-worker"]["static_configs"][0]["targets"]) == targets


def test_the_tracking_api_reaches_the_workers_and_is_probed_where_it_answers() -> None:
    services = compose_services()
    (api,) = (s for s in tracecode_services().values() if s["command"] == ["api"])
    env = service_environment(api)
    assert env["TRACECODE_API_HOST"] == "0.0.0.0"
    workers = {
        f"http://{s['hostname']}:{service_environment(s)['TRACECODE_WORKER_WEB_PORT']}"
        for s in services.values()
        if s.get("command") == ["worker"]
    }
    assert set(env["TRACECODE_API_WORKER_URLS"].split(",")) == workers
    assert "127.0.0.1:8080/health" in str(api["healthcheck"]["test"])
    routes = {route.path for route in create_app(ApiConfig(web_urls=(), history=None)).routes}
    assert "/health" in routes
    (container,) = (c for _, c in tracecode_containers() if c["args"] == ["api"])
    k8s_env = container_environment(container)
    web = next(d for d in k8s_documents() if d["metadata"]["name"] == "tracecode-web")
    (port,) = (p["port"] for p in web["spec"]["ports"])
    assert k8s_env["TRACECODE_API_WORKER_URLS"] == f"http://tracecode-web:{port}"
    assert {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")} == {
        "/health"
    }


def test_webhooks_metrics_reach_prometheus_and_the_probes() -> None:
    (service,) = (s for s in tracecode_services().values() if s["command"] == ["webhooks"])
    env = service_environment(service)
    assert env["TRACECODE_WEBHOOKS_METRICS_HOST"] == "0.0.0.0", "127.0.0.1 is out of reach"
    port = env["TRACECODE_WEBHOOKS_METRICS_PORT"]
    scrape = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["tracecode-webhooks"]["static_configs"][0]["targets"] == [
        f"{service['hostname']}:{port}"
    ]
    assert f"127.0.0.1:{port}/metrics" in str(service["healthcheck"]["test"])
    (container,) = (c for _, c in tracecode_containers() if c["args"] == ["webhooks"])
    k8s_env = container_environment(container)
    assert k8s_env["TRACECODE_WEBHOOKS_METRICS_HOST"] == "0.0.0.0"
    probed = {
        (container[probe]["httpGet"]["path"], str(container[probe]["httpGet"]["port"]))
        for probe in ("startupProbe", "livenessProbe")
    }
    assert probed == {("/metrics", k8s_env["TRACECODE_WEBHOOKS_METRICS_PORT"])}


def test_compose_sink_metrics_reach_prometheus() -> None:
    (sink,) = (s for s in tracecode_services().values() if s["command"] == ["sink"])
    env = service_environment(sink)
    assert env["TRACECODE_SINK_METRICS_HOST"] == "0.0.0.0", "127.0.0.1 is out of Prometheus' reach"
    scrape = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["tracecode-sink"]["static_configs"][0]["targets"] == [
        f"{sink['hostname']}:{env['TRACECODE_SINK_METRICS_PORT']}"
    ]


@pytest.mark.parametrize("name", sorted(tracecode_services()))
def test_compose_service_environment_loads(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = tracecode_services()[name]
    settings = load_with(monkeypatch, service_environment(service))
    assert config_for(settings, service["command"]) is not None
    assert settings.kafka_connection().bootstrap_servers.startswith("kafka-1:9092")


def test_compose_monitoring_is_optional_and_provisioned() -> None:
    services = compose_services()
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
    for name, service in services.items():
        if name not in ("prometheus", "grafana"):
            assert "profiles" not in service, f"{name} must start without a profile"
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    provider = yaml.safe_load(
        (MONITORING / "grafana/provisioning/dashboards/tracecode.yml").read_text()
    )
    dashboards_dir = next(t for s, t in mounts.items() if s.endswith("grafana/dashboards"))
    assert provider["providers"][0]["options"]["path"] == dashboards_dir
    for source in mounts:
        if source.startswith("."):
            assert (COMPOSE_DIR / source).exists(), source


@pytest.mark.skipif(
    subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode
    if shutil.which("docker")
    else True,
    reason="the docker client with the compose plugin is not installed",
)
def test_docker_compose_config(tmp_path: Path) -> None:
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in example_env().items()))
    result = subprocess.run(
        [
            *("docker", "compose", "--env-file", str(env_file), "--file", str(COMPOSE_FILE)),
            *("--profile", "monitoring", "config", "--quiet"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# -- Kubernetes --------------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == files
    generated = {g["name"] for g in kustomization["configMapGenerator"]}
    assert generated == {"tracecode-config"}


@pytest.mark.parametrize(
    "document",
    [*k8s_documents(), secret_template()],
    ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}",
)
def test_k8s_manifest_follows_the_kubernetes_schema(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_k8s_references_resolve() -> None:
    documents = k8s_documents()
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    secret_keys = set(secret_template()["stringData"])
    secret_name = secret_template()["metadata"]["name"]
    for workload, template in pod_specs():
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        labels = template["metadata"]["labels"]
        if "selector" in workload["spec"]:
            assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items(), where
        spec = template["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        claims = workload["spec"].get("volumeClaimTemplates", [])
        volumes |= {claim["metadata"]["name"]: claim for claim in claims}
        for volume in volumes.values():
            if "secret" in volume:
                assert volume["secret"]["secretName"] in EXTERNAL_SECRETS | {secret_name}, where
        ports = set()
        for container in spec["containers"]:
            ports |= {p["containerPort"] for p in container.get("ports", [])}
            names = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] == "tracecode-config", where
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == secret_name and ref["key"] in secret_keys, where
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{where}: no volume {mount['name']}"
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = container.get(probe, {}).get("httpGet", {}).get("port")
                if port is not None:
                    assert port in names or port in names.values(), f"{where}: {probe}"
        annotations = template["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            assert int(annotations["prometheus.io/port"]) in ports, where
        if workload["kind"] == "StatefulSet":
            service = services[workload["spec"]["serviceName"]]
            assert service["spec"]["clusterIP"] == "None", "table routing needs a headless Service"
            assert service["spec"]["selector"].items() <= labels.items()
    for service in services.values():
        assert any(
            service["spec"]["selector"].items() <= t["metadata"]["labels"].items()
            for _, t in pod_specs()
        ), f"Service {service['metadata']['name']} selects no pod"
    for pdb in (d for d in documents if d["kind"] == "PodDisruptionBudget"):
        assert any(
            pdb["spec"]["selector"]["matchLabels"].items() <= t["metadata"]["labels"].items()
            for w, t in pod_specs()
            if w["kind"] == "StatefulSet"
        )
    config_env = (K8S / "config.env").read_text()
    for name in EXTERNAL_SECRETS:
        assert name in config_env, f"say in config.env where the Secret {name} comes from"


def test_k8s_workers_announce_their_stable_address() -> None:
    (worker,) = (d for d in k8s_documents() if d["kind"] == "StatefulSet")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    env = container_environment(container)
    service = worker["spec"]["serviceName"]
    assert env["TRACECODE_WORKER_ID"] == "tracecode-worker-0"
    fqdn = f"tracecode-worker-0.{service}.tracecode.svc.cluster.local"
    assert env["TRACECODE_WORKER_WEB_HOST"] == fqdn
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    (claim,) = worker["spec"]["volumeClaimTemplates"]
    assert mounts[claim["metadata"]["name"]] == env["TRACECODE_DATA_DIR"]
    assert container["ports"][0]["containerPort"] == int(env["TRACECODE_WORKER_WEB_PORT"])


@pytest.mark.parametrize("name", sorted(name for name, _ in tracecode_containers()))
def test_k8s_container_environment_loads(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    container = dict(tracecode_containers())[name]
    settings = load_with(monkeypatch, container_environment(container))
    assert config_for(settings, container["args"]) is not None
    ca = settings.kafka.ssl_ca_location
    if ca is not None:
        mounts = [m["mountPath"] for m in container["volumeMounts"]]
        assert any(str(ca).startswith(path + "/") for path in mounts), f"{name}: no CA mount"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_build() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert {d["kind"] for d in rendered} >= {"ConfigMap", "StatefulSet", "Deployment", "Job"}
    for document in rendered:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        if document["kind"] != "ConfigMap":
            assert document["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tracecode"


# -- monitoring --------------------------------------------------------------------------


def exported_metrics() -> dict[str, set[str]]:
    """Series names the worker, the sink and the webhooks service expose, each with its label
    names."""
    holders: list[object] = [JoinMetrics(CollectorRegistry()), SinkMetrics(), WebhookMetrics()]
    holders += list(FaustMetrics.create(CollectorRegistry(), "faust"))
    metrics: list[MetricWrapperBase] = []
    for holder in holders:
        if isinstance(holder, MetricWrapperBase):
            metrics.append(holder)
        else:
            metrics += [m for m in vars(holder).values() if isinstance(m, MetricWrapperBase)]
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    series: dict[str, set[str]] = {"up": set()}
    for metric in metrics:
        # prometheus_client has no public accessor for a metric's name, type and label names.
        name, kind, labels = metric._name, metric._type, set(metric._labelnames)
        for suffix in suffixes[kind]:
            series[name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every dashboard panel target and alert rule."""

    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                yield f"panel {panel['title']!r}", target["expr"]
            yield from walk(panel.get("panels", []))

    yield from walk(json.loads(DASHBOARD.read_text())["panels"])
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule['alert']}", rule["expr"]


def test_dashboard_and_rules_use_exported_metrics_and_labels() -> None:
    # The worker's Faust metrics carry the prefix its app sets.
    assert 'name_prefix="faust"' in inspect.getsource(streams.runtime.app)
    exported = exported_metrics()
    found = 0
    for where, expr in queries():
        names = set(re.findall(r"\b(?:faust_|tracecode_)[a-z0-9_]+\b|\bup\b", expr))
        unknown = names - set(exported)
        assert not unknown, f"{where}: no such metric {sorted(unknown)}"
        labels = set().union(*(exported[name] for name in names)) | TARGET_LABELS
        used = set()
        for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
            used |= {label.strip() for label in group.split(",") if label.strip()}
        for matchers in re.findall(r"\{([^}]*)\}", expr):
            used |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
        used.discard("__rate_interval")
        assert used <= labels, f"{where}: labels {sorted(used - labels)} are not on {sorted(names)}"
        found += len(names)
    assert found >= 20


def test_dashboard_is_provisionable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "tracecode"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = []
    for panel in dashboard["panels"]:
        ids.append(panel["id"])
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("lag", "alerts", "dead letters", "per second"):
        assert topic in titles, f"the dashboard shows no {topic}"


def test_alert_rules_and_scrape_configs_agree_on_jobs() -> None:
    def jobs(path: Path) -> set[str]:
        return {job["job_name"] for job in yaml.safe_load(path.read_text())["scrape_configs"]}

    compose_jobs, k8s_jobs = jobs(PROMETHEUS_COMPOSE), jobs(PROMETHEUS_K8S)
    assert k8s_jobs <= compose_jobs
    for where, expr in queries():
        for job in re.findall(r'job=~?"([^"]+)"', expr):
            for name in job.split("|"):
                assert name in k8s_jobs, f"{where}: job {name} is not scraped on Kubernetes"
    prometheus = compose_services()["prometheus"]
    mounts = dict(v.split(":")[:2] for v in prometheus["volumes"])
    config = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())
    rules_target = next(t for s, t in mounts.items() if s.endswith("prometheus/rules"))
    assert config["rule_files"] == [f"{rules_target}/*.yml"]
    for rule_group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in rule_group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
