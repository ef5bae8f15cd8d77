"""What the SQL backends share: the record codec, the repositories (their SQL is written once,
with ``?`` parameters and a few dialect fragments each backend fills in) and the migration files'
loader. A backend adds its connections, transactions and scalar conversions."""
