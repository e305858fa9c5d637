#!/usr/bin/env python3
"""Checks a rendered performance install (helm template … -f values-performance.yaml):

- the replica counts of the deployment guide's 1000 TPS profile;
- CPU and memory requests and limits on every container;
- every environment variable a container gets is one the switch reads: `<PREFIX>__<SECTION>__<KEY>`
  must name a key of that service's config.default.toml, `MOJALOOP_*` and `DATABASE_URL` must
  be read by a `mojaloop` command.

Usage: check_rendered.py RENDERED.yaml REPOSITORY_ROOT  (needs PyYAML; tomllib is Python 3.11+)
"""
import pathlib
import re
import sys
import tomllib

import yaml

EXPECTED_REPLICAS = {
    "mojaloop-account-lookup-service": 10,
    "mojaloop-ml-api-adapter": 12,
    "mojaloop-ml-api-adapter-notification": 12,
    "mojaloop-central-ledger-prepare": 8,
    "mojaloop-central-ledger-fulfil": 8,
    "mojaloop-quoting-service": 8,
}
# Requests and limits the guide gives (cpu, memory) for the services it names.
EXPECTED_RESOURCES = {
    "mojaloop-account-lookup-service": (("2", "4Gi"), ("4", "8Gi")),
    "mojaloop-ml-api-adapter": (("2", "4Gi"), ("4", "8Gi")),
    "mojaloop-central-ledger-prepare": (("4", "8Gi"), ("8", "16Gi")),
    "mojaloop-central-ledger-fulfil": (("4", "8Gi"), ("8", "16Gi")),
}
CONFIGS = {
    "CENTRAL_LEDGER": "services/central-ledger/src/config.default.toml",
    "CENTRAL_SETTLEMENT": "services/central-settlement/src/config.default.toml",
    "ML_API_ADAPTER": "services/ml-api-adapter/src/config.default.toml",
    "QUOTING_SERVICE": "services/quoting-service/src/config.default.toml",
    "ALS": "services/account-lookup-service/src/config.default.toml",
    "ORACLE": "services/oracle/src/config.default.toml",
}
COMMAND_SOURCES = ["services/mojaloop/src/ops.rs", "services/mojaloop/src/up.rs", "services/mojaloop/src/settlement.rs", "perf/src/cli.rs"]


def env_is_read(name, root, configs, sources):
    for prefix, path in CONFIGS.items():
        if name.startswith(prefix + "__"):
            parts = name[len(prefix) + 2:].split("__")
            if len(parts) != 2:
                return False
            section, key = parts[0].lower(), parts[1].lower()
            return key in configs[prefix].get(section, {})
    if name.startswith("MOJALOOP_") or name == "DATABASE_URL":
        return f'env = "{name}"' in sources
    # RUST_LOG and the like are read by libraries, not the configuration.
    return name in ("RUST_LOG", "NO_COLOR")


def main():
    rendered, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    configs = {p: tomllib.loads((root / path).read_text()) for p, path in CONFIGS.items()}
    sources = "\n".join((root / s).read_text() for s in COMMAND_SOURCES)
    failures = []
    replicas = {}
    env_names = set()
    for doc in yaml.safe_load_all(rendered.read_text()):
        if not doc or doc.get("kind") not in ("Deployment", "Job"):
            continue
        name = doc["metadata"]["name"]
        spec = doc["spec"]
        if doc["kind"] == "Deployment":
            replicas[name] = spec.get("replicas")
        expected = EXPECTED_RESOURCES.get(name)
        for container in spec["template"]["spec"]["containers"]:
            if expected and doc["kind"] == "Deployment":
                got = container.get("resources", {})
                for kind, (cpu, memory) in zip(("requests", "limits"), expected):
                    have = got.get(kind, {})
                    if (str(have.get("cpu")), str(have.get("memory"))) != (cpu, memory):
                        failures.append(
                            f"{name}: {kind} {have}, the profile asks cpu {cpu} memory {memory}"
                        )
            if not re.match(r"^(apache/kafka)", container.get("image", "")):
                for env in container.get("env", []):
                    env_names.add(env["name"])
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if not resources.get(kind, {}).get(what):
                        failures.append(f"{name}/{container['name']}: no {kind}.{what}")
    for name, count in EXPECTED_REPLICAS.items():
        if replicas.get(name) != count:
            failures.append(f"{name}: {replicas.get(name)} replicas, the profile asks {count}")
    for name in sorted(env_names):
        if not env_is_read(name, root, configs, sources):
            failures.append(f"environment variable {name} is read by nothing")
    print(f"{len(replicas)} Deployments, {len(env_names)} environment variables checked")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
