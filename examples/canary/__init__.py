"""A canary rollout: a small router that sends a chosen share of the requests to a second version
of the service (at random, by a hash of the client's id, or as a shadow copy nobody sees), and says
with every answer which version gave it."""

from examples.canary.router import (
    ARM_HEADER,
    Assignment,
    CanaryRouter,
    ShadowPair,
    sticky_arm,
)

__all__ = ["ARM_HEADER", "Assignment", "CanaryRouter", "ShadowPair", "sticky_arm"]
