"""The stand-in's shared state: one object on the app, reached through ``GITLAB_STATE``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aiohttp import web
from graphql import GraphQLSchema

from auditstream.server.gitlab.config import GitLabConfig
from auditstream.server.gitlab.core import GitLabCore
from auditstream.server.gitlab.deliveries import Deliveries
from auditstream.server.gitlab.delivery import Streamer
from auditstream.server.gitlab.throttle import RestThrottle


@dataclass(slots=True)
class GitLabState:
    """What handlers share: the GitLab core, the streamer and its records, the schema, and the
    generator that makes activity (seeded by ``config.activity_seed``), and the REST
    rate-limit knob."""

    config: GitLabConfig
    core: GitLabCore
    deliveries: Deliveries
    streamer: Streamer
    schema: GraphQLSchema
    rng: random.Random
    throttle: RestThrottle = field(default_factory=RestThrottle)


GITLAB_STATE = web.AppKey("gitlab_state", GitLabState)
