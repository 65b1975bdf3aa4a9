"""What would change at each provider: the planner (`planner`, octoDNS's plan per
provider and zone), ALIAS flattening, the parity gate, drift and `plan --base`."""
