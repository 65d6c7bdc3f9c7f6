variable "create" {
  description = "Whether to create the Datadog dashboard and monitors (off in dev; needs the Datadog provider's keys)."
  type        = bool
  default     = false
}

variable "environment" {
  description = "Environment name: the monitors' $${env} placeholder (the env tag of the metrics)."
  type        = string
}

variable "resources_dir" {
  description = "Folder of the dashboard JSON and of monitors/*.json (default: src/ingestflow/resources/datadog of this repository, the files `ingestflow datadog push` uses)."
  type        = string
  default     = null
}

variable "monitor_tags" {
  description = "Extra tags added to every monitor."
  type        = list(string)
  default     = []
}
