{{- define "llmwatch.name" -}}{{ .Chart.Name }}{{- end -}}

{{- define "llmwatch.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "llmwatch.labels" -}}
app.kubernetes.io/name: {{ include "llmwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "llmwatch.selector" -}}
app.kubernetes.io/name: {{ include "llmwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end -}}

{{- define "llmwatch.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* the settings every llmwatch container takes: Kafka, the database, the sinks */}}
{{- define "llmwatch.env" -}}
- name: LLMWATCH_KAFKA__BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" .Values.kafka.bootstrapServers | quote }}
- name: LLMWATCH_KAFKA__SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if .Values.kafka.saslMechanism }}
- name: LLMWATCH_KAFKA__SASL_MECHANISM
  value: {{ .Values.kafka.saslMechanism | quote }}
{{- end }}
{{- with .Values.kafka.saslSecret }}{{ if .name }}
- name: LLMWATCH_KAFKA__SASL_USERNAME
  valueFrom: {secretKeyRef: {name: {{ .name | quote }}, key: {{ .usernameKey | quote }}}}
- name: LLMWATCH_KAFKA__SASL_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ .name | quote }}, key: {{ .passwordKey | quote }}}}
{{- end }}{{ end }}
- name: LLMWATCH_STORAGE__URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.urlSecret.name is required" .Values.database.urlSecret.name | quote }}
      key: {{ .Values.database.urlSecret.key | quote }}
- name: LLMWATCH_TOPICS__PARTITIONS
  value: {{ .Values.topics.partitions | quote }}
{{- range $var, $ref := dict "LLMWATCH_ALERTS__SLACK_TOKEN" .Values.secrets.slackToken "LLMWATCH_ALERTS__WEBHOOK_SECRET" .Values.secrets.webhookSecret "LLMWATCH_ALERTS__PAGERDUTY_ROUTING_KEY" .Values.secrets.pagerdutyRoutingKey "LLMWATCH_SDK__ID_SALT" .Values.secrets.sdkIdSalt }}
{{- if $ref.name }}
- name: {{ $var }}
  valueFrom: {secretKeyRef: {name: {{ $ref.name | quote }}, key: {{ $ref.key | quote }}}}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
