{{- define "cmo.name" -}}{{ .Chart.Name }}{{- end -}}
{{- define "cmo.fullname" -}}{{ printf "%s" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "cmo.labels" -}}
app.kubernetes.io/name: {{ include "cmo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "cmo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cmo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{/* The rules the operator needs on the namespaces it watches: nothing more. */}}
{{- define "cmo.watchRules" -}}
- apiGroups: [mirror.cephfs.io]
  resources: [cephfsmirrors, mirrorpeers, mirroreddirectories]
  verbs: [get, list, watch, update, patch]
- apiGroups: [mirror.cephfs.io]
  resources: [mirroreddirectories]
  verbs: [create]          # unmanagedDirectories: Adopt
- apiGroups: [mirror.cephfs.io]
  resources: [cephfsmirrors/status, mirrorpeers/status, mirroreddirectories/status]
  verbs: [get, update, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update]   # create/update: bootstrap token Secrets
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
