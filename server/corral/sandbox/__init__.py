"""Files and commands confined to a workspace root, presented to clients as `/workspace`.

Plain Python over the local file system (no HTTP, no pydantic): the HTTP services and the
runtime's native tools share it. Failures are `CorralError`s with the OAH codes.
"""
