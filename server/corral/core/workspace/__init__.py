"""What a workspace declares and where it lives: `catalog` (agents, models, actions, skills,
hooks, tool servers, cached by `catalog_cache`), `declarations` and `config_files` (parsing the
declaration files), `agent_spec`, `runtime_library` (runtime templates and zip import),
`directories` (creating and removing a workspace's directory), `sandbox_host` (the sandbox a
workspace's commands run in) and `access` (what a caller may reach)."""
