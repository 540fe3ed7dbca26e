"""Service-level objectives of models: SLIs read from the watch service's states, error budgets and burn rates."""
