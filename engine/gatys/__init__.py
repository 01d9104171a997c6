"""Gatys et al. neural style transfer by optimisation over VGG19 features.

Public entry point: `stylize(content_rgb, styles_rgb, params, *, mask, lane, progress,
cancel) -> MethodResult` (see `engine.pipeline` for the shared steps around it).
"""

from engine.gatys.transfer import stylize

__all__ = ["stylize"]
