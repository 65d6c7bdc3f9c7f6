output "dashboard_url" {
  description = "URL of the dashboard (null when create = false)."
  value       = try(datadog_dashboard_json.overview[0].url, null)
}

output "monitor_ids" {
  description = "Monitor file -> monitor id."
  value       = { for k, m in datadog_monitor_json.this : k => m.id }
}
