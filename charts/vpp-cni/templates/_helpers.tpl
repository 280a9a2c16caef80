{{/* Common labels. */}}
{{- define "vpp-cni.labels" -}}
app.kubernetes.io/name: vpp-cni
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels (stable across upgrades). */}}
{{- define "vpp-cni.selectorLabels" -}}
app.kubernetes.io/name: vpp-cni
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vpp-cni.fullname" -}}
{{- if eq .Release.Name "vpp-cni" -}}vpp-cni{{- else -}}{{ printf "%s-vpp-cni" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "vpp-cni.image" -}}
{{ printf "%s:%s" .repository .tag }}
{{- end -}}

{{/* Paths inside the containers: the agent's defaults (agent/config.ts), mounted from the same host paths. */}}
{{- define "vpp-cni.vppRunDir" -}}/run/vpp{{- end -}}
{{- define "vpp-cni.cniSocketDir" -}}/var/run/vpp-cni{{- end -}}
{{- define "vpp-cni.stateDir" -}}/var/lib/vpp-cni{{- end -}}
{{- define "vpp-cni.netnsDir" -}}/var/run/netns{{- end -}}
