{{/* Names, labels and the pieces every costfed pod shares. */}}

{{- define "costfed.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "costfed.fullname" -}}
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

{{/*
A component's object name: FULLNAME-COMPONENT. Call with (list $ "agent").
The full name is cut to 42 characters so that the longest, the federator's
CronJob, stays within the 52 a CronJob name may have.
*/}}
{{- define "costfed.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "costfed.fullname" $root | trunc 42 | trimSuffix "-") (index . 1) -}}
{{- end -}}

{{- define "costfed.serveServiceName" -}}
{{- default (include "costfed.componentName" (list . "serve")) .Values.serve.service.name -}}
{{- end -}}

{{- define "costfed.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "costfed.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Labels of every object; call with (list $ "component"). */}}
{{- define "costfed.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "costfed.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: costfed
{{- end -}}

{{- define "costfed.serviceAccountName" -}}
{{- $root := index . 0 -}}
{{- $comp := index $root.Values (index . 1) -}}
{{- if $comp.serviceAccountName -}}
{{- $comp.serviceAccountName -}}
{{- else if $root.Values.serviceAccount.create -}}
{{- default (include "costfed.fullname" $root) $root.Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false (the guide's IRSA service account)" $root.Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "costfed.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "costfed.storeSecretName" -}}
{{- if .Values.federatedStore.config -}}
{{- include "costfed.componentName" (list . "store") -}}
{{- else -}}
{{- required "federatedStore.existingSecret (a Secret holding federated-store.yaml) or federatedStore.config is required" .Values.federatedStore.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "costfed.storeSecretKey" -}}
{{- if .Values.federatedStore.config -}}federated-store.yaml{{- else -}}{{ .Values.federatedStore.key }}{{- end -}}
{{- end -}}

{{/*
The pod-level part every costfed pod shares: service account, security
context, scheduling. Call with (list $ "component").
*/}}
{{- define "costfed.podSpecCommon" -}}
{{- $root := index . 0 -}}
{{- $comp := index $root.Values (index . 1) -}}
serviceAccountName: {{ include "costfed.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with (default $root.Values.nodeSelector $comp.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $root.Values.tolerations $comp.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $root.Values.affinity $comp.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pod template metadata; call with (list $ "component" "config checksum"). */}}
{{- define "costfed.podMetadata" -}}
{{- $root := index . 0 -}}
{{- $comp := index $root.Values (index . 1) -}}
labels:
  {{- include "costfed.selectorLabels" (list $root (index . 1)) | nindent 2 }}
  {{- with $root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ index . 2 }}
  {{- with (merge (dict) $comp.podAnnotations $root.Values.podAnnotations) }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* The log flags of every costfed command. */}}
{{- define "costfed.logArgs" -}}
- --log.level={{ .Values.log.level }}
- --log.format={{ .Values.log.format }}
{{- end -}}

{{/*
The config volume: one directory /etc/costfed holding the component's config
file from the ConfigMap and federated-store.yaml from the store Secret, so
the config's relative `store: federated-store.yaml` finds it. Call with
(list $ "agent.yaml" "extra sources YAML").
*/}}
{{- define "costfed.configVolumes" -}}
{{- $root := index . 0 -}}
- name: config
  projected:
    sources:
      - configMap:
          name: {{ include "costfed.componentName" (list $root "config") }}
          items:
            - key: {{ index . 1 }}
              path: {{ index . 1 }}
      - secret:
          name: {{ include "costfed.storeSecretName" $root }}
          items:
            - key: {{ include "costfed.storeSecretKey" $root }}
              path: federated-store.yaml
      {{- with index . 2 }}
      {{- . | nindent 6 }}
      {{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "costfed.configMounts" -}}
- name: config
  mountPath: /etc/costfed
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* An HTTP probe; call with (list "/healthz" "http"). */}}
{{- define "costfed.httpProbe" -}}
httpGet:
  path: {{ index . 0 }}
  port: {{ index . 1 }}
periodSeconds: 10
timeoutSeconds: 5
failureThreshold: 3
{{- end -}}

{{/* The query URL of the agent's source. */}}
{{- define "costfed.prometheusURL" -}}
{{- $amp := .Values.global.amp -}}
{{- if .Values.agent.prometheus.url -}}
{{- .Values.agent.prometheus.url -}}
{{- else if not $amp.enabled -}}
{{- fail "agent: set global.amp.enabled (with global.amp.workspaceId or global.amp.prometheusServerEndpoint) or agent.prometheus.url" -}}
{{- else if $amp.prometheusServerEndpoint -}}
{{- $amp.prometheusServerEndpoint -}}
{{- else if .Values.sigV4Proxy.enabled -}}
{{- printf "http://localhost:%v/workspaces/%s" .Values.sigV4Proxy.port (required "global.amp.workspaceId is required" $amp.workspaceId) -}}
{{- else -}}
{{- printf "https://aps-workspaces.%s.amazonaws.com/workspaces/%s" (required "global.amp.sigv4.region is required with global.amp.workspaceId" $amp.sigv4.region) (required "global.amp.workspaceId is required" $amp.workspaceId) -}}
{{- end -}}
{{- end -}}

{{/* agent.yaml: the generated fields, then agent.config merged over them. */}}
{{- define "costfed.agentConfig" -}}
{{- $amp := .Values.global.amp -}}
{{- $prom := dict "url" (include "costfed.prometheusURL" .) -}}
{{- if and $amp.enabled (not .Values.sigV4Proxy.enabled) (not .Values.agent.prometheus.url) -}}
{{- $sigv4 := dict -}}
{{- with $amp.sigv4.region }}{{ $_ := set $sigv4 "region" . }}{{ end -}}
{{- $_ := set $prom "auth" (dict "type" "sigv4" "sigv4" $sigv4) -}}
{{- end -}}
{{- $cfg := dict "store" "federated-store.yaml" "listen_address" (printf ":%v" .Values.agent.port) -}}
{{- if .Values.agent.clusters -}}
{{- if .Values.clusterId -}}
{{- fail "agent.clusters (a central agent) and clusterId (a per-cluster agent) exclude each other" -}}
{{- end -}}
{{- $_ := set $cfg "clusters" .Values.agent.clusters -}}
{{- else -}}
{{- $_ := set $cfg "cluster_id" (required "clusterId is required for a per-cluster agent (or set agent.clusters for a central agent)" .Values.clusterId) -}}
{{- $filter := .Values.agent.prometheus.clusterFilter -}}
{{- if kindIs "invalid" $filter }}{{ $filter = $amp.enabled }}{{ end -}}
{{- if $filter }}{{ $_ := set $prom "cluster_filter" true }}{{ end -}}
{{- end -}}
{{- $_ := set $cfg "prometheus" $prom -}}
{{- toYaml (mustMergeOverwrite $cfg (deepCopy .Values.agent.config)) -}}
{{- end -}}

{{/* federator.yaml of the federator. */}}
{{- define "costfed.federatorConfig" -}}
{{- $cfg := dict "store" "federated-store.yaml" "schedule" .Values.federator.schedule "listen_address" (printf ":%v" .Values.federator.port) -}}
{{- toYaml (mustMergeOverwrite $cfg (deepCopy .Values.federator.config)) -}}
{{- end -}}

{{/* serve.yaml: federator.yaml with the server section, for costfed serve. */}}
{{- define "costfed.serveConfig" -}}
{{- $server := dict "listen_address" (printf ":%v" .Values.serve.port) -}}
{{- if .Values.serve.auth.existingSecret }}{{ $_ := set $server "bearer_token_file" "api-token" }}{{ end -}}
{{- $cfg := dict "store" "federated-store.yaml" "server" $server -}}
{{- with .Values.federator.config }}{{ $cfg = mustMergeOverwrite $cfg (deepCopy .) }}{{ end -}}
{{- toYaml (mustMergeOverwrite $cfg (deepCopy .Values.serve.config)) -}}
{{- end -}}
