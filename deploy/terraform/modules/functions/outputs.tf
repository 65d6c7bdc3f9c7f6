locals {
  functions_created = merge(aws_lambda_function.mapped, aws_lambda_function.invoked)
}

output "function_names" {
  description = "Function key (register, schedule, finish, alerts, forward_metrics) -> function name."
  value       = { for k, f in local.functions_created : k => f.function_name }
}

output "function_arns" {
  description = "Function key -> function ARN."
  value       = { for k, f in local.functions_created : k => f.arn }
}

output "role_arns" {
  description = "Function key -> ARN of its execution role."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "log_group_names" {
  description = "Function key -> log group name."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "ecr_repository_url" {
  description = "URL of the ECR repository CI pushes the image to."
  value       = try(aws_ecr_repository.this[0].repository_url, null)
}

output "ecr_repository_arn" {
  description = "ARN of the ECR repository."
  value       = try(aws_ecr_repository.this[0].arn, null)
}

output "async_failures_queue_arn" {
  description = "ARN of the dead-letter queue of the asynchronously invoked functions (schedule, finish, alerts)."
  value       = try(aws_sqs_queue.async_failures[0].arn, null)
}

output "stream_failures_queue_arn" {
  description = "ARN of the on-failure destination of the stream mapping (forward_metrics)."
  value       = try(aws_sqs_queue.stream_failures[0].arn, null)
}

output "state_machine_arn" {
  description = "ARN of the batch state machine as the functions see it (built from its name)."
  value       = local.state_machine_arn
}

output "environment_variables" {
  description = "The environment variables every function gets (DEPLOYMENT_VARIABLES)."
  value       = local.environment
}
