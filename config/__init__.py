"""auditstream.config: the TOML config file and the command line's options, read and checked."""
