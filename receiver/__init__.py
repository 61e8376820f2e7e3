"""receiver: the HTTP endpoint GitLab streams audit events to."""
