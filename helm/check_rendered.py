#!/usr/bin/env python3
"""Checks a rendered performance install (helm template … -f values-performance.yaml):

- the replica counts of the deployment guide's 1000 TPS profile;
- CPU and memory requests and limits on every container;
- every environment variable a container gets is one the switch reads: `<PREFIX>__<SECTION>__<KEY>`
  must name a key of that service's config.default.toml, `MOJALOOP_*` and `DATABASE_URL` must
  be read by a `mojaloop` command;
- the security settings ([tls], [jws]) are whole and reachable: a `serve <service>` container
  gets only its own service's, with TLS on it has a certificate, key and CA and no HTTP probe
  (kubelet cannot present a client certificate), with JWS validation a keys directory and with
  signing a key; every file or directory a `*_PATH`/`*_DIRECTORY` variable names is on a
  read-only volume mount (and among the items of a Secret or ConfigMap volume that lists them).

With --env-only, any rendered install (small, Istio, secured, ...): everything but the replica
counts and resources of the 1000 TPS profile.

Usage: check_rendered.py [--env-only] RENDERED.yaml REPOSITORY_ROOT
(needs PyYAML; tomllib is Python 3.11+)
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
    "TRANSACTION_REQUESTS_SERVICE": "services/transaction-requests-service/src/config.default.toml",
}
# The environment prefix of each `mojaloop serve <service>`.
SERVICE_PREFIX = {
    "central-ledger": "CENTRAL_LEDGER",
    "central-settlement": "CENTRAL_SETTLEMENT",
    "ml-api-adapter": "ML_API_ADAPTER",
    "quoting-service": "QUOTING_SERVICE",
    "account-lookup-service": "ALS",
    "oracle": "ORACLE",
    "transaction-requests-service": "TRANSACTION_REQUESTS_SERVICE",
}
COMMAND_SOURCES = ["services/mojaloop/src/ops", "services/mojaloop/src/up.rs", "services/mojaloop/src/settlement.rs", "perf/src/cli.rs"]


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


def volume_files(volume):
    """The file names a Secret or ConfigMap volume lists in items, or None (all of its keys)."""
    for kind in ("secret", "configMap"):
        if kind in volume:
            items = volume[kind].get("items")
            return None if items is None else {item["path"] for item in items}
    return None


def security_failures(where, pod, container):
    """What is wrong with the [tls]/[jws] settings of one container (see the module doc)."""
    failures = []
    env = {}
    for item in container.get("env", []):
        if item["name"] in env:
            failures.append(f"{where}: environment variable {item['name']} given twice")
        env[item["name"]] = item.get("value")
    args = container.get("args") or []
    own = SERVICE_PREFIX.get(args[1]) if len(args) > 1 and args[0] == "serve" else None
    for name in env:
        m = re.match(r"^([A-Z_]+?)__(TLS|JWS)__", name)
        if m and m.group(1) != own:
            failures.append(f"{where}: {name} on a container that runs {args[:2]}")
    if own and env.get(f"{own}__TLS__ENABLED") == "true":
        for key in ("CERT_PATH", "KEY_PATH", "CA_PATH"):
            if not env.get(f"{own}__TLS__{key}"):
                failures.append(f"{where}: TLS on without {own}__TLS__{key}")
        for probe in ("readinessProbe", "livenessProbe"):
            if "httpGet" in container.get(probe, {}):
                failures.append(
                    f"{where}: {probe} is httpGet while the listener requires client certificates"
                )
    if own and env.get(f"{own}__JWS__VALIDATE") == "true" and not env.get(f"{own}__JWS__KEYS_DIRECTORY"):
        failures.append(f"{where}: JWS validation without {own}__JWS__KEYS_DIRECTORY")
    if own and env.get(f"{own}__JWS__SIGN") == "true" and not env.get(f"{own}__JWS__SIGNING_KEY_PATH"):
        failures.append(f"{where}: JWS signing without {own}__JWS__SIGNING_KEY_PATH")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = container.get("volumeMounts", [])
    for name, value in env.items():
        if not re.search(r"__(\w+_PATH|\w*DIRECTORY)$", name) or not (value or "").startswith("/"):
            continue
        directory = name.endswith("DIRECTORY")
        found = None
        for mount in mounts:
            base = mount["mountPath"].rstrip("/")
            if value == base or value.startswith(base + "/"):
                if found is None or len(base) > len(found["mountPath"].rstrip("/")):
                    found = mount
        if found is None:
            failures.append(f"{where}: {name}={value} is on no volume mount")
            continue
        if not found.get("readOnly"):
            failures.append(f"{where}: {name}={value}: mount {found['mountPath']} is not readOnly")
        rest = value[len(found["mountPath"].rstrip("/")) + 1:]
        volume = volumes.get(found["name"])
        if volume is None:
            failures.append(f"{where}: mount {found['name']} has no volume")
            continue
        if directory:
            if rest:
                failures.append(f"{where}: {name}={value} is not a mounted directory")
            continue
        files = volume_files(volume)
        if not rest or (files is not None and rest not in files):
            failures.append(f"{where}: {name}={value}: no such file in volume {found['name']}")
    return failures


def main():
    args = sys.argv[1:]
    env_only = "--env-only" in args
    args = [a for a in args if a != "--env-only"]
    rendered, root = pathlib.Path(args[0]), pathlib.Path(args[1])
    configs = {p: tomllib.loads((root / path).read_text()) for p, path in CONFIGS.items()}
    # A source is a file, or a folder of them (`ops/`, one file per command).
    sources = "\n".join(
        f.read_text()
        for s in COMMAND_SOURCES
        for f in ([root / s] if (root / s).is_file() else sorted((root / s).glob("*.rs")))
    )
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
        expected = None if env_only else EXPECTED_RESOURCES.get(name)
        pod = spec["template"]["spec"]
        for container in pod["containers"]:
            failures += security_failures(f"{name}/{container['name']}", pod, container)
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
    for name, count in ({} if env_only else EXPECTED_REPLICAS).items():
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
