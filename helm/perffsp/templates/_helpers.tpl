{{- define "perffsp.fullname" -}}
{{- printf "%s-perffsp" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "perffsp.selectorLabels" -}}
app.kubernetes.io/name: perffsp
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "perffsp.labels" -}}
{{ include "perffsp.selectorLabels" . }}
app.kubernetes.io/part-of: mojaloop
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* URL of a switch Service: (list $ "override" "service-suffix" port) */}}
{{- define "perffsp.switchUrl" -}}
{{- $root := index . 0 -}}
{{- $override := index . 1 -}}
{{- if $override -}}
{{- $override -}}
{{- else -}}
{{- printf "http://%s-%s.%s.svc.cluster.local:%v" $root.Values.switch.release (index . 2) $root.Values.switch.namespace (index . 3) -}}
{{- end -}}
{{- end -}}
