"""``python -m auditstream.cli``: the same as the ``auditstream`` command."""

from auditstream.cli.main import main

main()
