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
Where the operator works. Namespaced by default: the namespaces in watchNamespaces, or the release
namespace alone when it is empty, each with a Role. rbac.clusterWide=true is the explicit opt-in
to a ClusterRole and every namespace (watchNamespaces must then be empty). Every template that
grants or passes namespaces (rbac.yaml, rbac-daemons.yaml, deployment.yaml's --namespace) uses
these two, so the operator watches exactly what it is granted.
*/}}
{{- define "cmo.clusterWide" -}}
{{- if and .Values.rbac .Values.rbac.clusterWide }}true{{ end -}}
{{- end -}}
{{/* The watched namespaces, comma-separated (`splitList ","`); empty when cluster-wide. */}}
{{- define "cmo.watchNamespaces" -}}
{{- if include "cmo.clusterWide" . -}}
{{- if .Values.watchNamespaces }}{{ fail "rbac.clusterWide=true watches every namespace: leave watchNamespaces empty" }}{{ end -}}
{{- else if .Values.watchNamespaces -}}
{{- join "," (uniq .Values.watchNamespaces) -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}
{{/*
The rules the operator needs on the namespaces it watches, and nothing more: each verb is a call the
operator makes (src/kube/kube-api.ts, events.ts, the informers). test/e2e/helm-chart.test.ts
runs the operator as this ServiceAccount and fails on any 403; add a verb here when the operator
starts using one (e.g. patch). Secrets: get only, by name (src/kube/secret-reader.ts: no list or
watch, so the operator cannot enumerate Secrets); create for a bootstrap token Secret; update
only of Secrets it created, which RBAC cannot express: the code checks the ownerReference
(kube-api.ts upsertSecret, otherwise Ready=False SecretNotOwned).
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
  verbs: [get, create, update]   # by name; create/update: bootstrap token Secrets it owns
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get]             # MirroredDirectory spec.persistentVolumeClaim (its PV: rbac-volumes.yaml)
{{- end -}}
