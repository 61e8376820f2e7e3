"""auditstream.client: a typed client for GitLab's audit event streaming API (gql), nothing else."""
