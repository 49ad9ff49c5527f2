"""The deployment files parse, fit together and carry a configuration pullgate accepts.

No Docker engine or cluster runs here, so these check what can be checked statically: every
YAML document parses, the pullgate settings the compose file and the Kubernetes manifests
produce validate with `proxy.settings`, probes and mounts point where pullgate serves and
reads, and the image's final stage is non-root, health-checked and free of build tools.

Two adaptations, both narrow: files the settings name (``*_file``) live on the node, so they
are replaced with temp files; and until pullgate has its S3 storage backend, the S3 storage
keys (and only they) are set aside before validating.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make ", "apt-get install", "pip install", "/src")


def kube_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(KUBE.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def kube_object(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d for d in kube_documents() if d["kind"] == kind and name in (None, d.get("metadata", {}).get("name"))
    ]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} found"
    return found[0]


def s3_backend_available() -> bool:
    return '"s3"' in json.dumps(Settings.model_json_schema())


def validate(document: dict[str, Any], environ: dict[str, str], tmp_path: Path) -> Settings:
    """Validate as pullgate would at start-up, with the two adaptations of the module doc."""
    document = _local_files(document, tmp_path)
    environ = {k: _local_file(v, tmp_path) if k.endswith("_FILE") else v for k, v in environ.items()}
    if not s3_backend_available():
        storage = {**document.get("storage", {}), **_env_section(environ, "STORAGE")}
        assert storage.get("backend") == "s3", "only the S3 storage keys may be set aside"
        document = {k: v for k, v in document.items() if k != "storage"}
        environ = {k: v for k, v in environ.items() if not k.startswith("PULLGATE_STORAGE__")}
    config = tmp_path / "pullgate.yaml"
    config.write_text(yaml.safe_dump(document))
    return load_settings(config, environ)


def _env_section(environ: dict[str, str], section: str) -> dict[str, str]:
    prefix = f"PULLGATE_{section}__"
    return {k.removeprefix(prefix).lower(): v for k, v in environ.items() if k.startswith(prefix)}


def _local_file(value: str, tmp_path: Path) -> str:
    local = tmp_path / "files" / value.strip("/").replace("/", "_")
    local.parent.mkdir(exist_ok=True)
    local.write_text("not-a-real-secret\n")
    return str(local)


def _local_files(node: Any, tmp_path: Path) -> Any:
    if isinstance(node, dict):
        return {
            k: _local_file(v, tmp_path)
            if k.endswith("_file") and isinstance(v, str)
            else _local_files(v, tmp_path)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_local_files(item, tmp_path) for item in node]
    return node


# -- docker-compose.yml --------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing exported: the default, else a placeholder."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "placeholder", value)


def test_compose_services_start_in_order_with_healthchecks() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "s3", "migrate", "pullgate"}
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["pullgate"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "s3": {"condition": "service_healthy"},
    }
    for name in ("postgres", "s3", "pullgate"):
        assert services[name]["healthcheck"]["test"], name
    volumes = compose()["volumes"]
    for name in ("postgres", "s3", "pullgate"):
        (mount,) = services[name]["volumes"]
        assert mount.split(":")[0] in volumes, f"{name} uses a named volume"


def test_compose_settings_validate(tmp_path: Path) -> None:
    services = compose()["services"]
    for name in ("migrate", "pullgate"):
        environ = {k: interpolate(str(v)) for k, v in services[name]["environment"].items()}
        assert environ.pop("PULLGATE_CONFIG") == "", "no config file: the environment is the configuration"
        if name == "migrate":
            settings = load_settings(None, environ)  # needs the database only
        else:
            settings = validate({}, environ, tmp_path)
            assert settings.listen == "0.0.0.0:5000"
        assert settings.database.url.startswith("postgresql+asyncpg://pullgate:pullgate@postgres:5432/")
    secret_file = services["pullgate"]["environment"]["PULLGATE_STORAGE__S3__SECRET_ACCESS_KEY_FILE"]
    assert secret_file == "/run/secrets/s3_secret_key" and "s3_secret_key" in services["pullgate"]["secrets"]


# -- Kubernetes ------------------------------------------------------------------------------------
def test_every_manifest_parses_and_the_kustomization_lists_real_files() -> None:
    kinds = {d["kind"] for d in kube_documents()}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "Job", "NetworkPolicy"} <= kinds
    for document in kube_documents():
        if document["kind"] != "Kustomization":
            assert document["apiVersion"] and document["metadata"]["name"]
    for resource in kube_object("Kustomization")["resources"]:
        assert (KUBE / resource).is_file(), resource


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment, secretKeyRef values read from the Secret manifest."""
    secret = kube_object("Secret", "pullgate-secrets")["stringData"]
    env = {}
    for var in container.get("env", []):
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        env[var["name"]] = secret[ref["key"]] if ref else var["value"]
    return env


def pullgate_yaml() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        kube_object("ConfigMap", "pullgate-config")["data"]["pullgate.yaml"]
    )
    return document


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_configmap_settings_validate_with_the_workload_environment(kind: str, tmp_path: Path) -> None:
    (container,) = kube_object(kind)["spec"]["template"]["spec"]["containers"]
    settings = validate(pullgate_yaml(), container_env(container), tmp_path)
    assert settings.listen_port == 5000 and not settings.database.is_sqlite
    assert settings.database.migrate_on_start is False  # the Job migrates; replicas never race
    assert container["args"][-2:] == ["--config", "/etc/pullgate/pullgate.yaml"]


def test_files_the_settings_name_are_mounted() -> None:
    named = re.findall(r"_file: (/\S+)", kube_object("ConfigMap")["data"]["pullgate.yaml"])
    assert named
    for kind in ("Deployment", "Job"):
        pod = kube_object(kind)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounted = {
            f"{m['mountPath']}/{item['path']}"
            for m in pod["containers"][0]["volumeMounts"]
            for item in volumes[m["name"]].get("secret", {}).get("items", [])
        }
        assert set(named) <= mounted, kind


def test_deployment_probes_security_and_resources() -> None:
    deployment = kube_object("Deployment", "pullgate")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert ports == {"http": 5000}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    # A read-only root needs writable scratch space where pullgate and Python write.
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert {"/var/lib/pullgate", "/tmp"} <= writable


def test_service_and_job_match_the_deployment() -> None:
    deployment = kube_object("Deployment", "pullgate")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = kube_object("Service", "pullgate")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    (job,) = kube_object("Job")["spec"]["template"]["spec"]["containers"]
    assert job["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert job["args"][0] == "migrate"


# -- Dockerfile ------------------------------------------------------------------------------------
def dockerfile_stages() -> list[list[str]]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("FROM "):
            stages.append([])
        if line and not line.startswith("#") and stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_final_stage_is_non_root_healthchecked_and_free_of_build_tools() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: tools stay in the build stage"
    assert any("build-essential" in line for line in stages[0])
    final = stages[-1]
    (user,) = [line.split()[1] for line in final if line.startswith("USER ")]
    assert user.split(":")[0] not in ("0", "root")
    (healthcheck,) = [line for line in final if line.startswith("HEALTHCHECK ")]
    assert "/healthz" in healthcheck and "curl" not in healthcheck
    for line in final:
        assert not any(tool in line for tool in BUILD_TOOLS), line
    instructions = {line.split()[0]: line for line in final}
    assert instructions["ENTRYPOINT"] == 'ENTRYPOINT ["pullgate"]'
    assert json.loads(instructions["CMD"].removeprefix("CMD ")) == [
        "serve",
        "--config",
        "/etc/pullgate/pullgate.yaml",
    ]
    volumes = json.loads(instructions["VOLUME"].removeprefix("VOLUME "))
    assert set(volumes) == {"/etc/pullgate", "/var/lib/pullgate"}
    assert "PULLGATE_LISTEN=0.0.0.0:5000" in instructions["ENV"]
