"""The service implementations the generated handlers call (their interfaces are declared in the
generated `corral/services.py`), one module per spec tag, named after the tag: `meta`,
`runtimes`, `workspaces`, `sessions`, `messages`, `runs`, `actions`, `sandboxes`, `files`,
`commands`, `terminals`, `models`; plus what they share: `event_stream` (SSE), `mappers`
(records to wire models), `pagination` and `downloads` (ranges, ETags)."""
