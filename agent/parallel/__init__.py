"""Many tasks at once: `batch` (one `agent run` child per task), `shared_model` (one server)."""
