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

{{/* Secret holding the hub's JWS private key: the user's existing Secret, or the chart's. */}}
{{- define "ml.jwsSecretName" -}}
{{- if .Values.global.jws.existingSecret -}}
{{- .Values.global.jws.existingSecret -}}
{{- else -}}
{{- printf "%s-mojaloop-jws" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* ConfigMap of the participants' JWS public keys (<fspId>.pem each). */}}
{{- define "ml.jwsPublicKeysName" -}}
{{- if .Values.global.jws.existingPublicKeysConfigMap -}}
{{- .Values.global.jws.existingPublicKeysConfigMap -}}
{{- else -}}
{{- printf "%s-jws-public-keys" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
Where the security files are mounted in the switch pods (read-only; the root filesystem is
read-only too): the TLS Secret's tls.crt, tls.key, ca.crt; the optional client certificate;
the JWS public keys (a directory of <fspId>.pem) and the hub's private key.
*/}}
{{- define "ml.tlsDir" -}}/etc/mojaloop/tls{{- end -}}
{{- define "ml.tlsClientDir" -}}/etc/mojaloop/tls-client{{- end -}}
{{- define "ml.jwsKeysDir" -}}/etc/mojaloop/jws/keys{{- end -}}
{{- define "ml.jwsPrivateDir" -}}/etc/mojaloop/jws/private{{- end -}}

{{/* Refuses values that would render pods unable to start. */}}
{{- define "ml.checkSecurityValues" -}}
{{- $g := .Values.global -}}
{{- if hasKey .Values "jws" -}}
{{- fail "jws.* moved to global.jws.* (the Deployments live in the child charts, which see only global values): e.g. --set global.jws.hubPrivateKey=..." -}}
{{- end -}}
{{- if and $g.tls.enabled (not $g.tls.existingSecret) -}}
{{- fail "global.tls.enabled needs global.tls.existingSecret: a Secret with tls.crt, tls.key and ca.crt (see README.md, Security)" -}}
{{- end -}}
{{- if and $g.jws.enabled $g.jws.sign (not $g.jws.hubPrivateKey) (not $g.jws.existingSecret) -}}
{{- fail "global.jws.sign needs the hub's private key: global.jws.hubPrivateKey (PEM) or global.jws.existingSecret (or set global.jws.sign=false)" -}}
{{- end -}}
{{- end -}}

{{/*
The [tls] and [jws] settings of one switch process, as environment variables of its service
(prefix, e.g. ML_API_ADAPTER). JWS only for the services that have a [jws] section (jws: true).
Call with (dict "root" $ "prefix" "ML_API_ADAPTER" "jws" true).
*/}}
{{- define "ml.securityEnv" -}}
{{- $g := .root.Values.global -}}
{{- $p := .prefix -}}
{{- if $g.tls.enabled }}
- name: {{ $p }}__TLS__ENABLED
  value: "true"
- name: {{ $p }}__TLS__CERT_PATH
  value: {{ include "ml.tlsDir" . }}/tls.crt
- name: {{ $p }}__TLS__KEY_PATH
  value: {{ include "ml.tlsDir" . }}/tls.key
- name: {{ $p }}__TLS__CA_PATH
  value: {{ include "ml.tlsDir" . }}/ca.crt
{{- if $g.tls.clientExistingSecret }}
- name: {{ $p }}__TLS__CLIENT_CERT_PATH
  value: {{ include "ml.tlsClientDir" . }}/tls.crt
- name: {{ $p }}__TLS__CLIENT_KEY_PATH
  value: {{ include "ml.tlsClientDir" . }}/tls.key
{{- end }}
- name: {{ $p }}__TLS__TRUSTED_IDENTITIES
  value: {{ toJson ($g.tls.trustedIdentities | default list) | quote }}
{{- end }}
{{- if and .jws $g.jws.enabled }}
- name: {{ $p }}__JWS__VALIDATE
  value: {{ $g.jws.validate | toString | quote }}
- name: {{ $p }}__JWS__VALIDATE_PUT_PARTIES
  value: {{ $g.jws.validatePutParties | toString | quote }}
{{- if $g.jws.validate }}
- name: {{ $p }}__JWS__KEYS_DIRECTORY
  value: {{ include "ml.jwsKeysDir" . }}
- name: {{ $p }}__JWS__KEYS_RELOAD_INTERVAL_MS
  value: {{ $g.jws.keysReloadIntervalMs | int | toString | quote }}
{{- end }}
- name: {{ $p }}__JWS__SIGN
  value: {{ $g.jws.sign | toString | quote }}
{{- if $g.jws.sign }}
- name: {{ $p }}__JWS__SIGNING_KEY_PATH
  value: {{ include "ml.jwsPrivateDir" . }}/Hub.pem
{{- end }}
{{- end }}
{{- end -}}

{{/* volumeMounts for ml.securityEnv's files; same arguments. */}}
{{- define "ml.securityVolumeMounts" -}}
{{- $g := .root.Values.global -}}
{{- if $g.tls.enabled }}
- name: tls
  mountPath: {{ include "ml.tlsDir" . }}
  readOnly: true
{{- if $g.tls.clientExistingSecret }}
- name: tls-client
  mountPath: {{ include "ml.tlsClientDir" . }}
  readOnly: true
{{- end }}
{{- end }}
{{- if and .jws $g.jws.enabled }}
{{- if $g.jws.validate }}
- name: jws-keys
  mountPath: {{ include "ml.jwsKeysDir" . }}
  readOnly: true
{{- end }}
{{- if $g.jws.sign }}
- name: jws-private
  mountPath: {{ include "ml.jwsPrivateDir" . }}
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* volumes for ml.securityVolumeMounts; same arguments. Modes: 288 = 0440 (owner and
fsGroup 10001 read), 292 = 0444. */}}
{{- define "ml.securityVolumes" -}}
{{- $g := .root.Values.global -}}
{{- if $g.tls.enabled }}
- name: tls
  secret:
    secretName: {{ $g.tls.existingSecret }}
    defaultMode: 288
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      - key: ca.crt
        path: ca.crt
{{- if $g.tls.clientExistingSecret }}
- name: tls-client
  secret:
    secretName: {{ $g.tls.clientExistingSecret }}
    defaultMode: 288
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end }}
{{- if and .jws $g.jws.enabled }}
{{- if $g.jws.validate }}
- name: jws-keys
  configMap:
    name: {{ include "ml.jwsPublicKeysName" .root }}
    defaultMode: 292
{{- end }}
{{- if $g.jws.sign }}
- name: jws-private
  secret:
    secretName: {{ include "ml.jwsSecretName" .root }}
    defaultMode: 288
    items:
      - key: {{ if $g.jws.existingSecret }}{{ $g.jws.existingSecretKey | default "hub-private-key.pem" }}{{ else }}hub-private-key.pem{{ end }}
        path: Hub.pem
{{- end }}
{{- end }}
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
{{- range $name := list "CENTRAL_LEDGER__DATABASE__URL" "ML_API_ADAPTER__CENTRAL_LEDGER_DATABASE__URL" "QUOTING_SERVICE__CENTRAL_LEDGER_DATABASE__URL" "QUOTING_SERVICE__QUOTES_DATABASE__URL" "ALS__DATABASE__URL" "ORACLE__DATABASE__URL" "CENTRAL_SETTLEMENT__DATABASE__URL" "TRANSACTION_REQUESTS_SERVICE__CENTRAL_LEDGER_DATABASE__URL" "TRANSACTION_REQUESTS_SERVICE__TRANSACTION_REQUESTS_DATABASE__URL" }}
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
{{- if $g.tls.enabled }}
prometheus.io/scheme: https
{{- end }}
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
                "args" (list ...) "ports" (list (dict "name" "http" "port" 3001))
                "prefix" "CENTRAL_LEDGER" "jws" false)
The first port is the one probed and scraped (GET /metrics). prefix: the service's environment
prefix, for its [tls] (every workload) and [jws] (jws: true) settings. Probes: GET /health; with
global.tls.enabled a TCP connect instead, since /health over mutual TLS needs a client
certificate that kubelet cannot present (nor can `mojaloop health`).
*/}}
{{- define "ml.workload" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $g := $root.Values.global -}}
{{- $fullname := printf "%s-%s" $root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- $main := first .ports -}}
{{- $ctx := dict "root" $root "name" .name -}}
{{- $security := dict "root" $root "prefix" (required "ml.workload: prefix" .prefix) "jws" (.jws | default false) -}}
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
            {{- with (include "ml.securityEnv" $security | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
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
          {{- range $probe := list "readiness" "liveness" }}
          {{ $probe }}Probe:
            {{- if $g.tls.enabled }}
            tcpSocket:
              port: {{ $main.name }}
            {{- else }}
            httpGet:
              path: /health
              port: {{ $main.name }}
            {{- end }}
            {{- toYaml (index $g.probes $probe) | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml ($c.resources | default dict) | nindent 12 }}
          securityContext:
            {{- include "ml.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with (include "ml.securityVolumeMounts" $security | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- with (include "ml.securityVolumes" $security | trim) }}
        {{- . | nindent 8 }}
        {{- end }}
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
      appProtocol: {{ $g.tls.enabled | ternary "https" "http" }}
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
      {{- if $g.tls.enabled }}
      {{- $client := $g.tls.clientExistingSecret | default $g.tls.existingSecret }}
      # /metrics over mutual TLS: Prometheus presents the hub's client certificate and checks
      # the server certificate against the scheme CA under the Service's DNS name.
      scheme: https
      tlsConfig:
        serverName: {{ printf "%s.%s.svc" $fullname $root.Release.Namespace }}
        ca:
          secret:
            name: {{ $g.tls.existingSecret }}
            key: ca.crt
        cert:
          secret:
            name: {{ $client }}
            key: tls.crt
        keySecret:
          name: {{ $client }}
          key: tls.key
      {{- end }}
{{- end }}
{{- end -}}
