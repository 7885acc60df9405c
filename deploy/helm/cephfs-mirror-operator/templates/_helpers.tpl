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
{{/*
The rules the operator needs on the namespaces it watches, and nothing more: each verb is a call the
operator makes (src/kube/kube-api.ts, events.ts, the informers). test/e2e/helm-chart.test.ts
runs the operator as this ServiceAccount and fails on any 403; add a verb here when the operator
starts using one (e.g. patch).
*/}}
{{- define "cmo.watchRules" -}}
- apiGroups: [mirror.cephfs.io]
  resources: [cephfsmirrors, mirrorpeers, mirroreddirectories]
  verbs: [get, list, watch, update]   # update: adding and removing our finalizer
- apiGroups: [mirror.cephfs.io]
  resources: [mirroreddirectories]
  verbs: [create]          # unmanagedDirectories: Adopt
- apiGroups: [mirror.cephfs.io]
  resources: [cephfsmirrors/status, mirrorpeers/status, mirroreddirectories/status]
  verbs: [update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update]   # create/update: bootstrap token Secrets
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: [""]
  resources: [persistentvolumeclaims, persistentvolumes]
  verbs: [get]             # MirroredDirectory spec.persistentVolumeClaim
{{- end -}}
