"""Spyglass's default notification templates, in Go text/template syntax.

The template names are Alertmanager's (``slack.default.title``,
``email.default.html``, ``telegram.default.message``, ...), so user templates
that call them keep working; the wording is Spyglass's own, written for each
platform's markup (Slack mrkdwn, Telegram HTML, DingTalk/WeCom/Feishu
markdown, HTML mail). User text lands in HTML only through ``html``.
"""

DEFAULT_TEMPLATES = r"""
{{ define "__alertmanager" }}Spyglass{{ end }}
{{ define "__alertmanagerURL" }}{{ .ExternalURL }}/#/alerts?receiver={{ .Receiver | urlquery }}{{ end }}

{{ define "__subject" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }}
{{- if gt (len .CommonLabels) (len .GroupLabels) }} ({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end }}){{ end }}
{{- end }}
{{ define "__description" }}{{ end }}

{{ define "__headline" -}}
{{ if .Annotations.summary }}{{ .Annotations.summary }}{{ else }}{{ .Labels.alertname }}{{ end }}
{{- end }}

{{/* The same for HTML bodies: every piece of user text goes through html. */}}
{{ define "__subject_html" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " | html }}
{{- if gt (len .CommonLabels) (len .GroupLabels) }} ({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " | html }}{{ end }}){{ end }}
{{- end }}
{{ define "__headline_html" -}}
{{ if .Annotations.summary }}{{ .Annotations.summary | html }}{{ else }}{{ .Labels.alertname | html }}{{ end }}
{{- end }}
{{ define "__url_html" }}{{ .ExternalURL | html }}/#/alerts?receiver={{ .Receiver | urlquery }}{{ end }}

{{ define "__text_alert_list" }}{{ range . }}- {{ template "__headline" . }}
{{ with .Annotations.description }}  {{ . }}
{{ end }}  Labels: {{ range $i, $p := .Labels.SortedPairs }}{{ if $i }}, {{ end }}{{ $p.Name }}={{ $p.Value }}{{ end }}
  Since: {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}{{ if eq .Status "resolved" }}, resolved at {{ .EndsAt.Format "2006-01-02 15:04:05 MST" }}{{ end }}
{{ with .GeneratorURL }}  Source: {{ . }}
{{ end }}{{ end }}{{ end }}

{{ define "__text_message" -}}
{{ template "__subject" . }}
{{ if gt (len .Alerts.Firing) 0 }}
Firing:
{{ template "__text_alert_list" .Alerts.Firing }}{{ end }}
{{- if gt (len .Alerts.Resolved) 0 }}
Resolved:
{{ template "__text_alert_list" .Alerts.Resolved }}{{ end -}}
{{- end }}

{{/* ---------------------------------------------------------------- Slack */}}
{{ define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "slack.default.username" }}{{ template "__alertmanager" . }}{{ end }}
{{ define "slack.default.fallback" }}{{ template "slack.default.title" . }} | {{ template "slack.default.titlelink" . }}{{ end }}
{{ define "slack.default.callbackid" }}{{ end }}
{{ define "slack.default.pretext" }}{{ end }}
{{ define "slack.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{ define "slack.default.iconemoji" }}{{ end }}
{{ define "slack.default.iconurl" }}{{ end }}
{{ define "slack.default.footer" }}{{ end }}
{{ define "slack.default.text" }}{{ range .Alerts -}}
{{ if eq .Status "firing" }}:red_circle:{{ else }}:large_green_circle:{{ end }} *{{ template "__headline" . }}*
{{ with .Annotations.description }}{{ . }}
{{ end }}{{ range $i, $p := .Labels.SortedPairs }}{{ if $i }}  {{ end }}`{{ $p.Name }}={{ $p.Value }}`{{ end }}
{{ end }}{{ end }}

{{/* ------------------------------------------------------ Microsoft Teams */}}
{{ define "msteams.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "msteams.default.summary" }}{{ template "__subject" . }}{{ end }}
{{ define "msteams.default.text" }}{{ range .Alerts -}}
**{{ if eq .Status "firing" }}🔥{{ else }}✅{{ end }} {{ template "__headline" . }}**

{{ with .Annotations.description }}{{ . }}

{{ end }}{{ range .Labels.SortedPairs }}- {{ .Name }}: {{ .Value }}
{{ end }}
{{ end }}{{ end }}
{{ define "msteamsv2.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "msteamsv2.default.text" }}{{ template "msteams.default.text" . }}{{ end }}

{{/* ------------------------------------------------------------- Telegram */}}
{{ define "telegram.default.message" -}}
<b>{{ template "__subject_html" . }}</b>
{{ range .Alerts }}
{{ if eq .Status "firing" }}🔥{{ else }}✅{{ end }} <b>{{ template "__headline_html" . }}</b>
{{ with .Annotations.description }}{{ . | html }}
{{ end }}{{ range .Labels.SortedPairs }}<code>{{ .Name | html }}={{ .Value | html }}</code> {{ end }}
{{ end }}{{ end }}

{{/* ---------------------------------------------------------------- Email */}}
{{ define "email.default.subject" }}{{ template "__subject" . }}{{ end }}
{{ define "__email_alert" -}}
<tr><td style="padding:8px 12px;border-bottom:1px solid #e5e5e5">
<div style="font-weight:bold">{{ template "__headline_html" . }}</div>
{{ with .Annotations.description }}<div>{{ . | html }}</div>{{ end }}
<div style="color:#555;font-size:12px">{{ range .Labels.SortedPairs }}{{ .Name | html }}={{ .Value | html }} {{ end }}</div>
<div style="color:#555;font-size:12px">since {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}{{ if eq .Status "resolved" }}, resolved {{ .EndsAt.Format "2006-01-02 15:04:05 MST" }}{{ end }}{{ with .GeneratorURL }} · <a href="{{ . | html }}">source</a>{{ end }}</div>
</td></tr>
{{- end }}
{{ define "email.default.html" -}}
<!DOCTYPE html>
<html><head><meta charset="UTF-8"><title>{{ template "__subject_html" . }}</title></head>
<body style="font-family:sans-serif;font-size:14px;color:#222">
<h2 style="color:{{ if eq .Status "firing" }}#c0392b{{ else }}#27ae60{{ end }}">{{ template "__subject_html" . }}</h2>
<table style="border-collapse:collapse;width:100%">
{{ if gt (len .Alerts.Firing) 0 }}<tr><th align="left" style="padding:8px 12px;background:#fdecea">Firing ({{ len .Alerts.Firing }})</th></tr>
{{ range .Alerts.Firing }}{{ template "__email_alert" . }}
{{ end }}{{ end -}}
{{ if gt (len .Alerts.Resolved) 0 }}<tr><th align="left" style="padding:8px 12px;background:#eafaf1">Resolved ({{ len .Alerts.Resolved }})</th></tr>
{{ range .Alerts.Resolved }}{{ template "__email_alert" . }}
{{ end }}{{ end -}}
</table>
<p><a href="{{ template "__url_html" . }}">Open in {{ template "__alertmanager" . }}</a></p>
</body></html>
{{- end }}
{{ define "email.default.text" }}{{ template "__text_message" . }}{{ end }}

{{/* ------------------------------------------------------------- DingTalk */}}
{{ define "dingtalk.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "dingtalk.default.message" -}}
### {{ if eq .Status "firing" }}🔥{{ else }}✅{{ end }} {{ template "__subject" . }}
{{ range .Alerts }}
**{{ template "__headline" . }}** ({{ .Status }})

{{ with .Annotations.description }}> {{ . }}

{{ end }}{{ range .Labels.SortedPairs }}- {{ .Name }}: {{ .Value }}
{{ end }}- since: {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}
{{ with .GeneratorURL }}- [source]({{ . }})
{{ end }}{{ end }}
[Open in {{ template "__alertmanager" . }}]({{ template "__alertmanagerURL" . }})
{{- end }}

{{/* --------------------------------------------------------------- Feishu */}}
{{ define "feishu.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "feishu.default.message" -}}
{{ range $i, $a := .Alerts }}{{ if $i }}
---
{{ end }}**{{ if eq $a.Status "firing" }}🔥{{ else }}✅{{ end }} {{ template "__headline" $a }}**
{{ with $a.Annotations.description }}{{ . }}
{{ end }}{{ range $a.Labels.SortedPairs }}{{ .Name }}: {{ .Value }}
{{ end }}since: {{ $a.StartsAt.Format "2006-01-02 15:04:05 MST" }}{{ with $a.GeneratorURL }}  [source]({{ . }}){{ end }}
{{ end }}{{ end }}

{{/* ---------------------------------------------------------------- WeCom */}}
{{ define "wecom.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "wecom.default.message" -}}
### {{ template "__subject" . }}
{{ range .Alerts }}
> <font color="{{ if eq .Status "firing" }}warning{{ else }}info{{ end }}">{{ .Status }}</font> **{{ template "__headline" . }}**
{{ with .Annotations.description }}> {{ . }}
{{ end }}{{ range .Labels.SortedPairs }}> {{ .Name }}: {{ .Value }}
{{ end }}> since: {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}
{{ end }}{{ end }}
"""
