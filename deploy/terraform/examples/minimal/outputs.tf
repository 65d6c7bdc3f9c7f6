output "landing_bucket_name" {
  description = "The [landing] bucket."
  value       = module.buckets.landing_bucket_name
}

output "output_bucket_name" {
  description = "The [output] bucket."
  value       = module.buckets.output_bucket_name
}

output "queue_url" {
  description = "The [landing] queue_url of a watching worker."
  value       = module.queue.queue_url
}

output "ledger_url" {
  description = "The [ledger] url."
  value       = module.ledger.ledger_url
}
