"""What performs a run: `performer` (between the run's hooks: a message run seats the session's
agent and runs the agent `loop`, an action run its command), `seat` (the agent, its model and
the tools offered), `engine_tools` (the tools that act on the run: `switch`, `delegation`,
`exposed_tools` for actions and skills) and `compaction` of a session's history."""
