output "name" {
  description = "Name of the stack."
  value       = module.ingestflow.name
}

output "function_environment" {
  description = "The INGESTFLOW_* variables of the functions (an operator's config must match them)."
  value       = module.ingestflow.function_environment
}

output "ecr_repository_url" {
  description = "Where CI pushes the functions' image (the ECR_REPOSITORY variable is its last part)."
  value       = module.ingestflow.ecr_repository_url
}

output "landing_bucket_name" {
  description = "Name of the landing bucket."
  value       = module.ingestflow.landing_bucket_name
}

output "output_bucket_name" {
  description = "Name of the output bucket."
  value       = module.ingestflow.output_bucket_name
}

output "notification_queue_url" {
  description = "URL of the landing notifications queue."
  value       = module.ingestflow.notification_queue_url
}

output "state_machine_arn" {
  description = "ARN of the batch state machine."
  value       = module.ingestflow.state_machine_arn
}

output "alerts_topic_arn" {
  description = "ARN of the alerts topic."
  value       = module.ingestflow.alerts_topic_arn
}

output "datadog_api_key_parameter_name" {
  description = "SSM parameter to put the Datadog API key in (aws ssm put-parameter --overwrite)."
  value       = module.ingestflow.datadog_api_key_parameter_name
}

output "athena_workgroup" {
  description = "Athena workgroup over the outputs."
  value       = module.ingestflow.athena_workgroup
}
