"""client.gitlab: a typed client for GitLab's audit event streaming API, on gql."""
