"""From the model to running containers: container specs, observed state -> plan -> executor."""
