"""The tools an agent calls in its workspace: the interface (`base`), the native tools (one
module per family) and the registry that names them and runs a call (`registry`)."""
