"""Random search: uniform samples of the family, never the same canonical architecture twice."""

from __future__ import annotations

from typing import Any

from gennape_naslib.optimizers.base import Optimizer, register_optimizer

__all__ = ["RandomSearch"]


@register_optimizer("random_search", aliases=("rs", "randomsearch", "random"))
class RandomSearch(Optimizer):
    """Sample architectures with the family's ``sample`` (NASLib's ``RandomSearch``).

    Args: see :class:`~gennape_naslib.optimizers.base.Optimizer`.
    """

    def _propose(self, n: int) -> list[Any]:
        return self._random_new(n)
