"""Which model a run talks to: `platform_models` (the server's model files, watched),
`resolution` (a model reference against the workspace's and the platform's models) and
`run_models` (the resolved model a run is seated with)."""
