"""A run's life, whatever performs it: `state` (the transitions), `queue` (a session's pending
runs: submit, interrupt, guide, requeue), `lifecycle` (claim, heartbeat, finish, recovery of a
dead process's runs), `executor` (takes runnable runs, at most one per session), `journal` (each
step a write with its events), `hooks`, `declared_commands` and `action_run` (commands a
workspace declares), `transcript` (stored history as the model sees it), `worker_process`."""
