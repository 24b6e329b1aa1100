{{/*
Names. A StatefulSet's name goes into its pods' controller-revision-hash label with 11
more characters, so names stop at 52.
*/}}
{{- define "emqxd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "emqxd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The headless Service: the pods' DNS names, SRV discovery, the cluster's RPC. */}}
{{- define "emqxd.headless" -}}
{{- printf "%s-headless" (include "emqxd.fullname" .) }}
{{- end }}

{{- define "emqxd.secretName" -}}
{{- .Values.existingSecret | default (include "emqxd.fullname" .) }}
{{- end }}

{{/*
Labels: (dict "root" $ "component" "broker"). The selector's are the two that never
change for a release.
*/}}
{{- define "emqxd.labels" -}}
{{ include "emqxd.selectorLabels" .root }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "emqxd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "emqxd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The FQDN suffix every pod's name takes: <pod>.<this>. */}}
{{- define "emqxd.podDomain" -}}
{{- printf "%s.%s.svc.%s" (include "emqxd.headless" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{- define "emqxd.gracePeriod" -}}
{{- .Values.terminationGracePeriodSeconds | default (add .Values.evacuation.waitHealthCheck .Values.evacuation.waitTakeover 60) | int }}
{{- end }}

{{/*
A generated secret value, base64: the one given in values, else the one the installed
release's Secret holds (so an upgrade keeps the cluster's cookie), else a new one.
(dict "given" .Values.x "previous" <base64 or nil> "length" N)
*/}}
{{- define "emqxd.secretValue" -}}
{{- if .given }}
{{- .given | b64enc | quote }}
{{- else if .previous }}
{{- .previous | quote }}
{{- else }}
{{- randAlphaNum .length | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
A Service port; with a NodePort or LoadBalancer Service, the node port values name.
(dict "root" $ "name" "mqtt" "port" 1883)
*/}}
{{- define "emqxd.servicePort" -}}
- name: {{ .name }}
  port: {{ .port }}
  targetPort: {{ .name }}
  {{- $nodePort := index .root.Values.service.nodePorts .name }}
  {{- if and $nodePort (ne .root.Values.service.type "ClusterIP") }}
  nodePort: {{ $nodePort | int }}
  {{- end }}
{{- end }}

{{/*
A map as HOCON, each key on a line of its own (the output starts with a newline): maps
are objects, anything else a JSON value, which HOCON reads as written ("1MB" and 1MB are
the same string to emqxd). Keys are written as they are: a dotted key is a path.
*/}}
{{- define "emqxd.hocon" -}}
{{- range $key, $value := . }}
{{- if kindIs "map" $value }}
{{ $key }} {
{{- include "emqxd.hocon" $value | replace "\n" "\n  " }}
}
{{- else }}
{{ $key }} = {{ toJson $value }}
{{- end }}
{{- end }}
{{- end }}

{{/*
emqx.conf. Only the keys the chart must own are written here; the node's name, cookie,
password and discovery are EMQX_* variables of the pod (statefulset.yaml).
*/}}
{{- define "emqxd.conf" -}}
## emqxd in Kubernetes (helm/emqxd, deploy/k8s; docs/deploy.md). The node's name, the
## cookie, the dashboard's password and discovery come from EMQX_* variables of the pod.
node {
  ## On the pod's volume. A directory of its own, so that emqxd makes it 0700.
  data_dir = "/var/lib/emqxd/data"
  ## Threads serving connections: the container's CPU limit, not the machine's cores.
  io_threads = {{ .Values.ioThreads | int }}
}
## Other pods reach this one here; node.cookie (from the Secret) signs every call.
cluster.rpc.bind = "0.0.0.0:4370"
listeners.tcp.default.bind = "0.0.0.0:1883"
listeners.ws.default.bind = "0.0.0.0:8083"
{{- if .Values.tls.enabled }}
listeners.ssl.default {
  bind = "0.0.0.0:8883"
  ssl_options.certfile = "/etc/emqxd/certs/tls.crt"
  ssl_options.keyfile = "/etc/emqxd/certs/tls.key"
  ssl_options.cacertfile = "/etc/emqxd/certs/ca.crt"
}
listeners.wss.default {
  bind = "0.0.0.0:8084"
  ssl_options.certfile = "/etc/emqxd/certs/tls.crt"
  ssl_options.keyfile = "/etc/emqxd/certs/tls.key"
  ssl_options.cacertfile = "/etc/emqxd/certs/ca.crt"
}
{{- end }}
## The probes, the preStop hook and Prometheus use it.
dashboard.listeners.http.bind = "0.0.0.0:18083"
## To stderr, which kubectl logs reads; no log file (the root file system is read-only).
log.console.enable = true
{{- with .Values.emqxConfig }}
{{- include "emqxd.hocon" . }}
{{- end }}
{{- with .Values.config }}
{{ . | trimSuffix "\n" }}
{{- end }}
{{- end }}
