output "name" {
  description = "Name of the stack (the prefix of its resources)."
  value       = local.name
}

output "ledger_url" {
  description = "The ledger URL (an operator's config: [ledger] url)."
  value       = module.ledger.ledger_url
}

output "function_environment" {
  description = "The INGESTFLOW_* variables every function gets: what an operator's config file needs to match."
  value       = module.functions.environment_variables
}

output "function_names" {
  description = "Function key -> function name."
  value       = module.functions.function_names
}

output "ecr_repository_url" {
  description = "Where CI pushes the functions' image."
  value       = module.functions.ecr_repository_url
}

output "landing_bucket_name" {
  description = "Name of the landing bucket."
  value       = module.buckets.landing_bucket_name
}

output "output_bucket_name" {
  description = "Name of the output bucket."
  value       = module.buckets.output_bucket_name
}

output "artifacts_bucket_name" {
  description = "Name of the artifacts bucket (CI uploads the ingestflow wheel under wheels/)."
  value       = module.buckets.artifacts_bucket_name
}

output "notification_queue_url" {
  description = "URL of the landing notifications queue (a self-hosted worker's [landing] queue_url)."
  value       = module.queue.queue_url
}

output "state_machine_arn" {
  description = "ARN of the batch state machine."
  value       = module.orchestration.state_machine_arn
}

output "glue_job_name" {
  description = "Name of the batch Glue job."
  value       = module.orchestration.glue_job_name
}

output "alerts_topic_arn" {
  description = "ARN of the alerts topic."
  value       = module.alerts.topic_arn
}

output "datadog_api_key_parameter_name" {
  description = "SSM parameter to put the Datadog API key in (out of band)."
  value       = module.alerts.datadog_api_key_parameter_name
}

output "athena_workgroup" {
  description = "Athena workgroup for queries over the outputs."
  value       = module.analytics.workgroup_name
}

output "glue_database" {
  description = "Glue catalog database of the outputs."
  value       = module.analytics.database_name
}
