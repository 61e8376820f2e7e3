"""Helpers the whole suite shares, one definition each: GitLab's event bodies (``bodies``),
metrics as a scraper reads them (``metrics``), ports held before a server serves on them
(``ports``). Waiting is ``tests.waiting``; running the CLI is ``tests.processes``."""
