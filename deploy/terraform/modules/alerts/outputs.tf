output "topic_arn" {
  description = "ARN of the alerts topic (the ops notifier, and the alarms' action)."
  value       = try(aws_sns_topic.this[0].arn, null)
}

output "topic_name" {
  description = "Name of the alerts topic."
  value       = try(aws_sns_topic.this[0].name, null)
}

output "datadog_api_key_parameter_name" {
  description = "Name of the SSM parameter holding the Datadog API key."
  value       = var.datadog_api_key_parameter_name
}

output "datadog_api_key_parameter_arn" {
  description = "ARN of the SSM parameter holding the Datadog API key."
  value       = try(aws_ssm_parameter.datadog_api_key[0].arn, null)
}

output "function_error_alarm_arns" {
  description = "Function key -> ARN of its Errors alarm."
  value       = { for k, a in aws_cloudwatch_metric_alarm.function_errors : k => a.arn }
}
