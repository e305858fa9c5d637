{{/*
Shared named templates. Helm puts the named templates of a chart and all of its subcharts in
one set, so the child charts under charts/ render their Deployments, Services, PDBs, HPAs and
ServiceMonitors with the templates below (they are only ever installed through this chart).
*/}}

{{/* Secret holding the database URLs: the user's existing Secret, or the one this chart makes. */}}
{{- define "ml.dbSecretName" -}}
{{- if .Values.global.mysql.existingSecret -}}
{{- .Values.global.mysql.existingSecret -}}
{{- else -}}
{{- printf "%s-mojaloop-db" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ml.jwsSecretName" -}}
{{- printf "%s-mojaloop-jws" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* mysql://USER:PASS@HOST:PORT, from global.mysql. */}}
{{- define "ml.mysqlBaseUrl" -}}
{{- $m := .Values.global.mysql -}}
{{- if $m.password -}}
{{- printf "mysql://%s:%s@%s:%v" (urlquery $m.user) (urlquery $m.password) $m.host $m.port -}}
{{- else -}}
{{- printf "mysql://%s@%s:%v" (urlquery $m.user) $m.host $m.port -}}
{{- end -}}
{{- end -}}

{{/* Image reference from global.image. */}}
{{- define "ml.image" -}}
{{- $i := .Values.global.image -}}
{{- if $i.registry -}}
{{- printf "%s/%s:%s" $i.registry $i.repository (toString $i.tag) -}}
{{- else -}}
{{- printf "%s:%s" $i.repository (toString $i.tag) -}}
{{- end -}}
{{- end -}}

{{/* Common labels; call with (dict "root" $ "name" "central-ledger-prepare"). */}}
{{- define "ml.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "ml.labels" -}}
{{ include "ml.selectorLabels" . }}
app.kubernetes.io/part-of: mojaloop
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
Environment every switch process gets, as docker-compose.yml gives it to every service:
the same variable names, database URLs from the Secret, brokers from global.kafka.brokers.
*/}}
{{- define "ml.switchEnv" -}}
{{- $secret := include "ml.dbSecretName" . -}}
- name: RUST_LOG
  value: {{ .Values.global.logLevel | quote }}
{{- range $name := list "CENTRAL_LEDGER__DATABASE__URL" "ML_API_ADAPTER__CENTRAL_LEDGER_DATABASE__URL" "QUOTING_SERVICE__CENTRAL_LEDGER_DATABASE__URL" "QUOTING_SERVICE__QUOTES_DATABASE__URL" "ALS__DATABASE__URL" "ORACLE__DATABASE__URL" "CENTRAL_SETTLEMENT__DATABASE__URL" }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: database-url
{{- end }}
- name: ALS__DIRECTORY__CENTRAL_LEDGER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: central-ledger-database-url
- name: CENTRAL_LEDGER__KAFKA__BROKERS
  value: {{ .Values.global.kafka.brokers | quote }}
- name: ML_API_ADAPTER__KAFKA__BROKERS
  value: {{ .Values.global.kafka.brokers | quote }}
- name: CENTRAL_SETTLEMENT__KAFKA__BROKERS
  value: {{ .Values.global.kafka.brokers | quote }}
{{- end -}}

{{/* Pod-level annotations: Prometheus scraping, Istio. (dict "root" $ "port" 3000 "c" $component) */}}
{{- define "ml.podAnnotations" -}}
{{- $g := .root.Values.global -}}
{{- if $g.monitoring.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- if $g.istio.enabled }}
sidecar.istio.io/inject: "true"
{{- end }}
{{- with .root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .c.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "ml.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "ml.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/*
One switch workload: Deployment, Service, PodDisruptionBudget, optional HPA and ServiceMonitor.
Call with (dict "root" $ "name" "central-ledger-prepare" "c" $componentValues
                "args" (list ...) "ports" (list (dict "name" "http" "port" 3001)))
The first port is the one probed (GET /health) and scraped (GET /metrics).
*/}}
{{- define "ml.workload" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $g := $root.Values.global -}}
{{- $fullname := printf "%s-%s" $root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- $main := first .ports -}}
{{- $ctx := dict "root" $root "name" .name -}}
{{- $autoscaling := $c.autoscaling | default dict -}}
{{- $pdb := $c.pdb | default $g.pdb -}}
{{- $antiAffinity := $g.podAntiAffinity -}}
{{- $antiEnabled := $antiAffinity.enabled -}}
{{- if hasKey $c "podAntiAffinity" }}{{ $antiEnabled = $c.podAntiAffinity }}{{ end -}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "ml.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: {{ .component | default .name }}
spec:
  {{- if not $autoscaling.enabled }}
  replicas: {{ $c.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "ml.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "ml.labels" $ctx | nindent 8 }}
        app.kubernetes.io/component: {{ .component | default .name }}
        {{- if $g.istio.enabled }}
        sidecar.istio.io/inject: "true"
        {{- end }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $annotations := include "ml.podAnnotations" (dict "root" $root "port" $main.port "c" $c) | trim }}
      {{- if $annotations }}
      annotations:
        {{- $annotations | nindent 8 }}
      {{- end }}
    spec:
      {{- with $g.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $c.terminationGracePeriodSeconds | default 30 }}
      securityContext:
        {{- include "ml.podSecurityContext" . | nindent 8 }}
      {{- if or $antiEnabled $c.affinity }}
      affinity:
        {{- if $c.affinity }}
        {{- toYaml $c.affinity | nindent 8 }}
        {{- else }}
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: {{ $antiAffinity.weight | default 100 }}
              podAffinityTerm:
                topologyKey: {{ $antiAffinity.topologyKey | default "kubernetes.io/hostname" }}
                labelSelector:
                  matchLabels:
                    {{- include "ml.selectorLabels" $ctx | nindent 20 }}
        {{- end }}
      {{- end }}
      {{- with ($c.nodeSelector | default $g.nodeSelector) }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ($c.tolerations | default $g.tolerations) }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "ml.image" $root }}
          imagePullPolicy: {{ $g.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          env:
            {{- include "ml.switchEnv" $root | nindent 12 }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
            {{- end }}
          readinessProbe:
            httpGet:
              path: /health
              port: {{ $main.name }}
            {{- toYaml $g.probes.readiness | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /health
              port: {{ $main.name }}
            {{- toYaml $g.probes.liveness | nindent 12 }}
          resources:
            {{- toYaml ($c.resources | default dict) | nindent 12 }}
          securityContext:
            {{- include "ml.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "ml.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: {{ .component | default .name }}
spec:
  type: {{ ($c.service | default dict).type | default "ClusterIP" }}
  selector:
    {{- include "ml.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
      appProtocol: http
    {{- end }}
{{- if $pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "ml.labels" $ctx | nindent 4 }}
spec:
  {{- if $pdb.minAvailable }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "ml.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- if $autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "ml.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $fullname }}
  minReplicas: {{ $autoscaling.minReplicas | default $c.replicaCount }}
  maxReplicas: {{ $autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $autoscaling.targetCPUUtilizationPercentage | default 70 }}
    {{- with $autoscaling.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end }}
{{- if $g.monitoring.serviceMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "ml.labels" $ctx | nindent 4 }}
    {{- with $g.monitoring.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "ml.selectorLabels" $ctx | nindent 6 }}
  endpoints:
    - port: {{ $main.name }}
      path: /metrics
      interval: {{ $g.monitoring.serviceMonitor.interval }}
      scrapeTimeout: {{ $g.monitoring.serviceMonitor.scrapeTimeout }}
{{- end }}
{{- end -}}
