"""The handwritten runtime: the only writer of state. Its subpackages are layers, each importing
only those below it (import-linter checks the order, `make check`):

    services/   one module per spec tag implementing the generated service interfaces, plus the
                event streams, the wire mappers and pagination
    agent/      what performs a run: the agent loop, its seat (agent, model, tools), the engine
                tools offered to it (switch, delegation, actions, skills), compaction
    runs/       a run's life without the model: state, the session queue, claim and finish,
                the executor, the journal of steps, hooks, the transcript, action commands
    llm/        which model a run uses: platform models and their resolution
    workspace/  what a workspace declares and where it lives: catalog, declarations, config
                files, runtime templates, directories, the sandbox host, access checks

`container.Core` wires them together. Nothing here imports HTTP (Connexion, Starlette,
`corral.http`, `corral.api`); errors are domain errors (`corral.errors`).
"""
