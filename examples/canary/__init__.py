"""A canary rollout: a small router that sends a chosen share of the requests to a second version
of the service, and says with every answer which version gave it."""

from examples.canary.router import ARM_HEADER, Assignment, CanaryRouter

__all__ = ["ARM_HEADER", "Assignment", "CanaryRouter"]
