"""auditstream.cli: the command line (click). The only code that imports click."""
