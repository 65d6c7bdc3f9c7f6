output "queue_arn" {
  description = "ARN of the notification queue. Depends on the queue policy, so a bucket notification using it is created after S3 is allowed to send."
  value       = try(aws_sqs_queue.this[0].arn, null)
  depends_on  = [aws_sqs_queue_policy.this]
}

output "queue_url" {
  description = "URL of the notification queue."
  value       = try(aws_sqs_queue.this[0].id, null)
}

output "queue_name" {
  description = "Name of the notification queue."
  value       = try(aws_sqs_queue.this[0].name, null)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].id, null)
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the notification queue (6 x the consumer's timeout)."
  value       = try(aws_sqs_queue.this[0].visibility_timeout_seconds, null)
}
