variable "create" {
  description = "Whether to create the Glue catalog database, the workflow's table and the Athena workgroup."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the stack (e.g. ingestflow-dev): the workgroup is <name>; the database <name> with - replaced by _."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed key encrypting the Athena results."
  type        = string
}

variable "output_bucket_name" {
  description = "Name of the output bucket (the Parquet outputs, and Athena's results under _athena/)."
  type        = string
}

variable "output_prefix" {
  description = "Prefix of the outputs (ends with /): a workflow's outputs are under <prefix><workflow>/."
  type        = string
}

variable "workflow" {
  description = "The workflow whose outputs the table reads (the packaged config's ohlcv workflow, transform ohlcv)."
  type        = string
  default     = "ohlcv"
}

variable "columns" {
  description = "Columns of the workflow's Parquet outputs (name -> Hive type), in order. The default is the output of the ohlcv preset (src/ingestflow/domain/transform.py, tested)."
  type = list(object({
    name    = string
    type    = string
    comment = optional(string)
  }))
  default = [
    { name = "open_price", type = "double", comment = "Open" },
    { name = "high_price", type = "double", comment = "High" },
    { name = "low_price", type = "double", comment = "Low" },
    { name = "close_price", type = "double", comment = "Close" },
    { name = "volume", type = "double", comment = "Volume" },
    { name = "timestamp", type = "timestamp", comment = "Date" },
    { name = "price_change", type = "double", comment = "close_price - open_price" },
  ]
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Most bytes one Athena query of the workgroup may scan (at least 10 MB)."
  type        = number
  default     = 10737418240
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
