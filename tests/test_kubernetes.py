"""The kubernetes option: valid manifests that match the project, and none without it.

Every combination with ``kubernetes=yes`` is rendered once for the module. Many render the
same manifest text (the Python version and license do not reach k8s/), so one
kubernetes-validate call checks each distinct text once and every combination looks up the
verdicts of its own files.
"""

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import all_combinations, combination_id, is_csv, render, run, tool

GITHUB_OWNER = "Octo-Org"  # mixed case: image names must come out lowercase
COMBINATIONS = all_combinations()
K8S_COMBINATIONS = [answers for answers in COMBINATIONS if answers["kubernetes"] == "yes"]
# Without the option, the Python version and license change nothing k8s-related: one
# combination per task and dataset is enough.
NO_K8S_COMBINATIONS = [
    answers
    for answers in COMBINATIONS
    if answers["kubernetes"] == "no"
    and answers["python_version"] == COMBINATIONS[0]["python_version"]
    and answers["license"] == COMBINATIONS[0]["license"]
]
KUSTOMIZATION = "kustomization.yaml"
NOT_DEPLOYED = {"secret.example.yaml", "data-loader.yaml"}  # applied by hand, see k8s/README.md
WORKLOADS = {"Pod", "Deployment", "Job", "CronJob"}
APP_UID = 10001
WRITABLE_PATHS = {"/app/models", "/app/data", "/app/reports", "/mlartifacts", "/tmp"}  # noqa: S108
MLFLOW_SECRETS = {"MLFLOW_BACKEND_STORE_URI"}  # the tracking server's, not an APP_* setting
Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every combination with kubernetes=yes, rendered once for this module."""
    root = tmp_path_factory.mktemp("k8s")
    return {
        combination_id(answers): render(
            root / combination_id(answers), github_owner=GITHUB_OWNER, **answers
        )
        for answers in K8S_COMBINATIONS
    }


def resource_files(project: Path) -> list[Path]:
    """The Kubernetes resource manifests of a project: every k8s/*.yaml but the kustomization."""
    return sorted(path for path in (project / "k8s").glob("*.yaml") if path.name != KUSTOMIZATION)


def validate(paths: list[Path]) -> dict[Path, list[str]]:
    """Run kubernetes-validate --strict once over ``paths``; return each file's output lines."""
    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = (result.stdout + result.stderr).splitlines()
    # A failure shows up in a file's lines, and assert_valid reports it for that file.
    problems = [line for line in lines if not line.startswith("INFO")]
    assert result.returncode == 0 or problems, "\n".join(lines)
    return {path: [line for line in lines if f" {path} " in line] for path in paths}


def assert_valid(path: Path, lines: list[str]) -> None:
    """Every resource of the file passed, and kubernetes-validate knew its kind."""
    assert lines, f"kubernetes-validate said nothing about {path}"
    for line in lines:
        assert line.startswith("INFO") and " passed " in line, line


@pytest.fixture(scope="module")
def verdicts(projects: dict[str, Path]) -> dict[str, list[str]]:
    """kubernetes-validate's lines for each distinct manifest text, from a single call."""
    representatives: dict[str, Path] = {}
    for project in projects.values():
        for path in resource_files(project):
            representatives.setdefault(path.read_text(encoding="utf-8"), path)
    by_path = validate(list(representatives.values()))
    return {text: by_path[path] for text, path in representatives.items()}


def load_manifests(project: Path) -> dict[str, list[Manifest]]:
    """The resources of each k8s/*.yaml file, by file name."""
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
        for path in resource_files(project)
    }


def kustomization(project: Path) -> Manifest:
    """The parsed k8s/kustomization.yaml."""
    return yaml.safe_load((project / "k8s" / KUSTOMIZATION).read_text(encoding="utf-8"))


def pod_spec(manifest: Manifest) -> Manifest:
    """The pod spec of a workload (Pod, Deployment, Job or CronJob)."""
    spec: Manifest = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec if manifest["kind"] == "Pod" else spec["template"]["spec"]


def by_kind(manifests: dict[str, list[Manifest]], kind: str) -> list[Manifest]:
    """All resources of one kind."""
    return [doc for docs in manifests.values() for doc in docs if doc["kind"] == kind]


def only(manifests: dict[str, list[Manifest]], kind: str) -> Manifest:
    """The one resource of a kind."""
    [manifest] = by_kind(manifests, kind)
    return manifest


def containers(manifests: dict[str, list[Manifest]]) -> Iterator[tuple[Manifest, Manifest]]:
    """(pod spec, container) for every container of every workload."""
    for docs in manifests.values():
        for doc in docs:
            if doc["kind"] in WORKLOADS:
                spec = pod_spec(doc)
                for container in spec["containers"]:
                    yield spec, container


def cli_commands(project: Path) -> set[str]:
    """The subcommands of the generated CLI, from its Typer decorators."""
    source = cli_source(project)
    found = re.findall(r'@app\.command\((?:"([\w-]+)")?\)\ndef (\w+)', source)
    return {name or function.replace("_", "-") for name, function in found}


def cli_options(project: Path) -> set[str]:
    """Every --option the generated CLI declares."""
    return set(re.findall(r'"(--[\w-]+)', cli_source(project)))


def cli_source(project: Path) -> str:
    """The generated CLI's modules, one after another."""
    modules = sorted(project.glob("src/*/cli/*.py"))
    return "\n".join(module.read_text(encoding="utf-8") for module in modules)


def api_paths(project: Path) -> set[str]:
    """The GET paths of the generated API."""
    source = next(project.glob("src/*/serving/routes.py")).read_text(encoding="utf-8")
    return set(re.findall(r'@router\.get\("([^"]+)"', source))


def settings_variables(project: Path) -> set[str]:
    """APP_* names of the generated Settings fields."""
    source = next(project.glob("src/*/config.py")).read_text(encoding="utf-8")
    body = source.split("class Settings(BaseSettings):", 1)[1]
    return {f"APP_{name.upper()}" for name in re.findall(r"^    (\w+): ", body, re.MULTILINE)}


def env_file_variables(path: Path) -> set[str]:
    """Variable names set (or commented out) in a KEY=value file."""
    return set(re.findall(r"^(?:# )?(APP_\w+)=", path.read_text(encoding="utf-8"), re.MULTILINE))


def image_repository(image: str) -> str:
    """An image reference without its tag."""
    return image.rsplit(":", 1)[0]


def make_dry_run(project: Path, target: str) -> str:
    """The commands ``make -n target`` would run in the project."""
    return subprocess.run(
        ["make", "-n", target], cwd=project, capture_output=True, text=True, check=True
    ).stdout


def test_there_are_combinations_with_and_without_kubernetes() -> None:
    assert len(K8S_COMBINATIONS) == len(COMBINATIONS) // 2
    assert {answers["dataset"] for answers in NO_K8S_COMBINATIONS} == {
        answers["dataset"] for answers in K8S_COMBINATIONS
    }


@pytest.mark.parametrize("answers", K8S_COMBINATIONS, ids=combination_id)
def test_manifests_pass_kubernetes_validate(
    projects: dict[str, Path], verdicts: dict[str, list[str]], answers: dict[str, str]
) -> None:
    project = projects[combination_id(answers)]
    files = resource_files(project)
    assert files
    for path in files:
        assert_valid(path, verdicts[path.read_text(encoding="utf-8")])
    # `make k8s-validate`, which the CI job runs, checks exactly these files.
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    assert ci["jobs"]["kubernetes"]["steps"][-1]["run"] == "make k8s-validate"
    [command] = [line for line in make_dry_run(project, "k8s-validate").splitlines() if line]
    assert command.split()[:3] == ["uvx", "kubernetes-validate", "--strict"]
    assert sorted(command.split()[3:]) == [f"k8s/{path.name}" for path in files]


@pytest.mark.parametrize("answers", K8S_COMBINATIONS, ids=combination_id)
def test_manifests_match_the_project(projects: dict[str, Path], answers: dict[str, str]) -> None:
    project = projects[combination_id(answers)]
    slug, owner = project.name, GITHUB_OWNER.lower()
    manifests = load_manifests(project)
    kustomize = kustomization(project)

    # Names, labels, namespace.
    assert kustomize["namespace"] == slug
    for docs in manifests.values():
        for doc in docs:
            metadata = doc["metadata"]
            assert metadata["name"].startswith(slug), metadata
            assert "namespace" not in metadata, "the kustomization sets the namespace"
            assert metadata["labels"]["app.kubernetes.io/name"] == slug, metadata
            assert metadata["labels"]["app.kubernetes.io/part-of"] == slug, metadata

    # The kustomization deploys every resource file but the hand-applied ones.
    deployed = {path.name for path in resource_files(project)} - NOT_DEPLOYED
    assert set(kustomize["resources"]) == deployed
    [generator] = kustomize["configMapGenerator"]
    config_name = generator["name"]
    assert config_name == f"{slug}-config"
    [env_file] = generator["envs"]
    settings = settings_variables(project)
    unknown = env_file_variables(project / "k8s" / env_file) - settings
    assert not unknown, f"not settings in {env_file}: {unknown}"
    [secret] = by_kind(manifests, "Secret")
    assert not set(secret["stringData"]) - settings - MLFLOW_SECRETS, secret["stringData"]

    # Images: the API image serves; the monitor image trains and runs the drift job; the
    # mlflow image runs the tracking server.
    names = (slug, f"{slug}-monitor", f"{slug}-mlflow")
    images = {name: f"ghcr.io/{owner}/{name}" for name in names}
    assert {image["name"] for image in kustomize["images"]} == set(images.values())
    deployments = {d["metadata"]["name"]: d for d in by_kind(manifests, "Deployment")}
    services = {s["metadata"]["name"]: s for s in by_kind(manifests, "Service")}
    assert set(deployments) == {f"{slug}-api", f"{slug}-mlflow"}
    api = deployments[f"{slug}-api"]
    [api_container] = pod_spec(api)["containers"]
    assert image_repository(api_container["image"]) == images[slug]
    assert api_container["args"] == ["serve"]
    for kind, args in (("Job", ["train", "--if-missing"]), ("CronJob", ["monitor", "--retrain"])):
        [container] = pod_spec(only(manifests, kind))["containers"]
        assert image_repository(container["image"]) == images[f"{slug}-monitor"], kind
        assert container["args"] == args, kind
    cronjob = only(manifests, "CronJob")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert re.fullmatch(r"\d+ \* \* \* \*", cronjob["spec"]["schedule"]), "hourly"

    # Containers: real CLI commands, known settings, existing Secret/ConfigMap/volumes.
    pvcs = {pvc["metadata"]["name"]: pvc for pvc in by_kind(manifests, "PersistentVolumeClaim")}
    commands, options = cli_commands(project), cli_options(project)
    for spec, container in containers(manifests):
        if "command" not in container:  # the image's entrypoint is the CLI
            assert container["args"][0] in commands, container["args"]
            assert {arg for arg in container["args"] if arg.startswith("--")} <= options
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] == config_name
        for variable in container.get("env", []):
            assert variable["name"] in settings | MLFLOW_SECRETS, variable["name"]
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference["name"] == secret["metadata"]["name"]
            assert reference["key"] in secret["stringData"]
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for mount in container["volumeMounts"]:
            assert mount["mountPath"] in WRITABLE_PATHS, mount
            claim = volumes[mount["name"]].get("persistentVolumeClaim")
            assert claim is None or claim["claimName"] in pvcs, claim
    mounted = {mount["mountPath"] for _, c in containers(manifests) for mount in c["volumeMounts"]}
    assert ("/app/data" in mounted) == is_csv(answers)

    # The API: probes on real endpoints, a read-only registry, zero-downtime updates.
    paths = api_paths(project)
    assert {"/ready", "/health"} <= paths
    assert api_container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api_container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api_container["startupProbe"]["httpGet"]["path"] in paths
    assert api["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"] in paths
    assert all(m["readOnly"] for m in api_container["volumeMounts"] if m["name"] == "models")
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in api["spec"], "the HorizontalPodAutoscaler owns the count"
    pod_labels = api["spec"]["template"]["metadata"]["labels"]
    assert api["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = services[slug]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == api_container["ports"][0]["name"]
    hpa = only(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == api["metadata"]["name"]
    pdb = only(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == api["spec"]["selector"]["matchLabels"]
    assert pvcs[f"{slug}-models"]["spec"]["accessModes"] == ["ReadWriteMany"]

    # MLflow: its image, probes on /health, a Service the other pods find through config.env.
    tracking = deployments[f"{slug}-mlflow"]
    [server] = pod_spec(tracking)["containers"]
    assert image_repository(server["image"]) == images[f"{slug}-mlflow"]
    assert server["command"] == ["mlflow", "server"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert server[probe]["httpGet"]["path"] == "/health", probe
    assert tracking["spec"]["strategy"]["type"] == "Recreate", "a ReadWriteOnce artifact volume"
    tracking_labels = tracking["spec"]["template"]["metadata"]["labels"]
    mlflow_service = services[f"{slug}-mlflow"]
    assert mlflow_service["spec"]["selector"].items() <= tracking_labels.items()
    assert not mlflow_service["spec"]["selector"].items() <= pod_labels.items()
    assert not service["spec"]["selector"].items() <= tracking_labels.items()
    [port] = mlflow_service["spec"]["ports"]
    config = (project / "k8s" / env_file).read_text(encoding="utf-8")
    assert f"APP_MLFLOW_TRACKING_URI=http://{slug}-mlflow:{port['port']}\n" in config


@pytest.mark.parametrize("answers", K8S_COMBINATIONS, ids=combination_id)
def test_every_pod_is_locked_down(projects: dict[str, Path], answers: dict[str, str]) -> None:
    """Pod Security "restricted", a read-only root filesystem, and resources everywhere."""
    manifests = load_manifests(projects[combination_id(answers)])
    assert list(containers(manifests))
    for spec, container in containers(manifests):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == APP_UID
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, container["name"]


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (with kustomize) not installed")
def test_kustomization_builds_valid_resources(projects: dict[str, Path], tmp_path: Path) -> None:
    """`kubectl kustomize` of each distinct k8s/ folder, validated in one call."""
    folders: dict[tuple[str, ...], Path] = {}
    for project in projects.values():
        k8s = project / "k8s"
        texts = tuple(path.read_text(encoding="utf-8") for path in sorted(k8s.iterdir()))
        folders.setdefault(texts, k8s)
    builds = []
    for index, k8s in enumerate(folders.values()):
        output = run(["kubectl", "kustomize", "."], cwd=k8s).stdout
        slug = k8s.parent.name
        for doc in yaml.safe_load_all(output):
            assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kustomize"
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == slug, doc["metadata"]
        assert f"name: {slug}-config-" in output, "the ConfigMap name carries a content hash"
        builds.append(tmp_path / f"build-{index}.yaml")
        builds[-1].write_text(output, encoding="utf-8")
    for path, lines in validate(builds).items():
        assert_valid(path, lines)


@pytest.mark.parametrize("answers", NO_K8S_COMBINATIONS, ids=combination_id)
def test_no_kubernetes_means_no_trace_of_it(tmp_path: Path, answers: dict[str, str]) -> None:
    project = render(tmp_path, **answers)
    assert not (project / "k8s").exists()
    assert "k8s-validate" not in (project / "Makefile").read_text(encoding="utf-8")
    ci = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    assert "kubernetes" not in ci["jobs"]
