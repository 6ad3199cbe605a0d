"""``beautygan app``: makeup transfer in a local web page (Gradio, the ``app`` extra), with the makeup controls and
what VGG sees of the change. :class:`MakeupApp` does the work without Gradio (:mod:`~beautygan.app.makeup_app`),
:func:`build_app` lays out the page and :func:`launch` serves it (:mod:`~beautygan.app.page`), :class:`VGGView`
draws the VGG comparison (:mod:`~beautygan.app.vgg_view`).

Needs no Lightning: the generator comes from :mod:`beautygan.inference`."""

from .makeup_app import AppResult, MakeupApp
from .page import build_app, launch
from .vgg_view import VGGChoice, VGGView, checkpoint_vgg

__all__ = ["AppResult", "MakeupApp", "VGGChoice", "VGGView", "build_app", "checkpoint_vgg", "launch"]
