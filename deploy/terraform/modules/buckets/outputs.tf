output "landing_bucket_name" {
  description = "Name of the landing bucket."
  value       = local.landing_bucket
}

output "landing_bucket_arn" {
  description = "ARN of the landing bucket (derived from its name: the queue policy needs it before the bucket exists)."
  value       = local.bucket_arns["landing"]
}

output "landing_prefix" {
  description = "Prefix of the landing files (the notification's filter)."
  value       = var.landing_prefix
}

output "output_bucket_name" {
  description = "Name of the output bucket."
  value       = local.output_bucket
}

output "output_bucket_arn" {
  description = "ARN of the output bucket."
  value       = local.bucket_arns["output"]
}

output "artifacts_bucket_name" {
  description = "Name of the artifacts bucket (Glue script, ingestflow wheel)."
  value       = local.artifacts_bucket
}

output "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  value       = local.bucket_arns["artifacts"]
}

output "access_logs_bucket_name" {
  description = "Name of the bucket receiving the server access logs."
  value       = local.access_logs_bucket
}

output "landing_bucket_id" {
  description = "Id of the created landing bucket (null when create = false)."
  value       = try(aws_s3_bucket.landing[0].id, null)
}

output "output_bucket_id" {
  description = "Id of the created output bucket (null when create = false)."
  value       = try(aws_s3_bucket.output[0].id, null)
}

output "artifacts_bucket_id" {
  description = "Id of the created artifacts bucket (null when create = false)."
  value       = try(aws_s3_bucket.artifacts[0].id, null)
}
