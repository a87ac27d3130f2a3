{{- define "zen-watcher.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "zen-watcher.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "zen-watcher.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zen-watcher.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "zen-watcher.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "zen-watcher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: zen-watcher
{{- end -}}

{{- define "zen-watcher.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "zen-watcher.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespaces a namespaced (rbac.clusterScoped=false) install watches: the release namespace first, then watchNamespaces. */}}
{{- define "zen-watcher.namespaces" -}}
{{- $all := list .Release.Namespace -}}
{{- range .Values.watchNamespaces -}}
{{- $all = append $all . -}}
{{- end -}}
{{- $all | uniq | join "," -}}
{{- end -}}

{{/* The comma list for WATCH_NAMESPACE, empty when every namespace is watched. */}}
{{- define "zen-watcher.watchNamespace" -}}
{{- if not .Values.rbac.clusterScoped -}}
{{- include "zen-watcher.namespaces" . -}}
{{- else -}}
{{- join "," .Values.watchNamespaces -}}
{{- end -}}
{{- end -}}

{{/* SHUTDOWN_TIMEOUT in whole seconds (accepts 20s, 1m, 500ms, 20). */}}
{{- define "zen-watcher.shutdownSeconds" -}}
{{- $v := toString .Values.shutdownTimeout -}}
{{- if hasSuffix "ms" $v -}}{{- div (trimSuffix "ms" $v | int) 1000 -}}
{{- else if hasSuffix "s" $v -}}{{- trimSuffix "s" $v | int -}}
{{- else if hasSuffix "m" $v -}}{{- mul (trimSuffix "m" $v | int) 60 -}}
{{- else if hasSuffix "h" $v -}}{{- mul (trimSuffix "h" $v | int) 3600 -}}
{{- else -}}{{- $v | int -}}
{{- end -}}
{{- end -}}

{{/* Read-only rules on the namespaced watched sources (used by the ClusterRole and each namespaced Role). */}}
{{- define "zen-watcher.namespacedReadRules" -}}
- apiGroups: ["aquasecurity.github.io"]
  resources: ["vulnerabilityreports"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["wgpolicyk8s.io"]
  resources: ["policyreports"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["openreports.io"]
  resources: ["reports"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["configmaps", "events"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["get", "list", "watch"]
{{- range .Values.rbac.extraReadResources }}
- apiGroups: {{ toJson .apiGroups }}
  resources: {{ toJson .resources }}
  verbs: ["get", "list", "watch"]
{{- end }}
{{- end -}}

{{/* Observations: exactly the verbs the Kubernetes store uses (create, get, list, delete; status by merge patch). */}}
{{- define "zen-watcher.observationRules" -}}
- apiGroups: ["zen.kube-zen.io"]
  resources: ["observations"]
  verbs: ["create", "get", "list", "watch", "delete"]
- apiGroups: ["zen.kube-zen.io"]
  resources: ["observations/status"]
  verbs: ["patch"]
{{- end -}}

{{/* Ingesters: read, and status counts written by update. */}}
{{- define "zen-watcher.ingesterRules" -}}
- apiGroups: ["zen.kube-zen.io"]
  resources: ["ingesters"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["zen.kube-zen.io"]
  resources: ["ingesters/status"]
  verbs: ["update"]
{{- if .Values.ingesters.secretAuth.enabled }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
{{- end -}}
