"""Feature blueprints of the sample app."""
