"""``beautygan app``'s web page (Gradio, the ``app`` extra): :func:`build_app` lays out the page over a
:class:`~beautygan.app.makeup_app.MakeupApp` (its heading names the generator the checkpoint holds; source and
reference by upload, webcam or an example; the strengths of the makeup controls, per-region references and a second
reference to interpolate towards; the result at the photo's own size, before and after, and what VGG sees of the
change) and :func:`launch` serves it: on the loopback address unless asked otherwise, one transfer at a time with a
bounded queue, uploads up to the photo size limit (Gradio refuses larger ones itself, ``max_file_size``), and no file
from the disk but the example photos themselves (``allowed_paths``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data.photo_limits import MAX_FILE_MB
from ..data.regions import CONTROL_REGIONS
from ..inference.controls import MAX_STRENGTH
from .makeup_app import MakeupApp, markdown_escape, vgg_heading

__all__ = ["LOOPBACK", "build_app", "launch"]

LOOPBACK = "127.0.0.1"


def build_app(app: MakeupApp) -> Any:
    """The page (a ``gradio.Blocks``) over ``app``; its one event, ``/transfer``, is also the API
    (``gradio_client``: ``Client(url).predict(..., api_name="/transfer")``)."""
    import gradio as gr

    transfer = app.transfer
    faces = (
        "faces are found and aligned (dlib); the result keeps the photo's size and only the face changes"
        if transfer.align
        else f"whole images, resized to {transfer.size}x{transfer.size}"
    )
    model = transfer.model
    title = f"{model.name} makeup transfer"
    header = (
        f"# {title}\n**{markdown_escape(model.description)}**: "
        f"{markdown_escape(f'checkpoint {model.checkpoint.name}')}, on {model.device}; {faces}. Photos up to "
        f"{app.max_megapixels:g} megapixels and {app.max_file_mb:g} MB."
    )

    def photo(label: str, **kwargs: Any) -> Any:
        return gr.Image(label=label, type="filepath", sources=["upload", "webcam", "clipboard"], **kwargs)

    def slider(label: str, elem_id: str) -> Any:
        return gr.Slider(0.0, MAX_STRENGTH, value=1.0, step=0.05, label=label, elem_id=elem_id)

    with gr.Blocks(title=title, analytics_enabled=False) as blocks:
        gr.Markdown(header)
        with gr.Row():
            with gr.Column():
                source = photo("Source photo (without makeup)", elem_id="source", height=360)
                if app.source_examples:
                    gr.Examples([[str(p)] for p in app.source_examples], inputs=[source], label="Example sources")
            with gr.Column():
                reference = photo("Reference (the makeup to copy)", elem_id="reference", height=360)
                if app.reference_examples:
                    gr.Examples(
                        [[str(p)] for p in app.reference_examples], inputs=[reference], label="Example references"
                    )
        gr.Markdown(
            "Strength: 0 is the source, 1 the transfer, up to 1.5 a heavier look than the generator makes; "
            "a region's strength multiplies the whole look's."
        )
        with gr.Row():
            strength = slider("Whole look", "strength")
            region_sliders = [
                slider(f"{region.capitalize()} strength", f"{region}_strength") for region in CONTROL_REGIONS
            ]
        with (
            gr.Accordion("Per-region references (optional): another look for the lips, eyes or skin", open=False),
            gr.Row(),
        ):
            region_photos = [
                photo(f"{region.capitalize()} reference", elem_id=f"{region}_reference", height=200)
                for region in CONTROL_REGIONS
            ]
        with gr.Accordion("Interpolate between two references", open=False):
            with gr.Row():
                second = photo("Second reference", elem_id="second_reference", height=200)
                mix = gr.Slider(
                    0.0,
                    1.0,
                    value=0.0,
                    step=0.05,
                    elem_id="mix",
                    label="Look: 0 = the reference's, 1 = the second reference's (mixed in the generator)",
                )
            if app.reference_examples:
                gr.Examples([[str(p)] for p in app.reference_examples], inputs=[second], label="Example references")
        button = gr.Button("Transfer", variant="primary", elem_id="run")
        status = gr.Markdown(
            "Add a source and a reference, then press Transfer (or move a slider).", label="Status", elem_id="status"
        )
        with gr.Row():
            result = gr.Image(
                label="Result (the photo's own size; PNG)", format="png", interactive=False, elem_id="result"
            )
            before_after = gr.ImageSlider(
                label="Before / after (drag the handle)", format="png", elem_id="before_after"
            )
        vgg_text = gr.Markdown(vgg_heading(app.vgg), label="VGG panel", elem_id="vgg_text")
        shown = app.vgg.problem is None
        with gr.Row():
            with gr.Column(scale=3):
                # the pictures carry their own heading and column titles: no label badge over them
                vgg = [
                    gr.Image(
                        label=f"{layer}: before | made-up | |difference|",
                        show_label=False,
                        format="png",
                        interactive=False,
                        visible=shown,
                        elem_id=f"vgg_{layer}",
                    )
                    for layer in app.vgg.choice.layers
                ]
            with gr.Column(scale=1):
                vgg.append(
                    gr.Image(
                        label="Where VGG sees the change",
                        format="png",
                        interactive=False,
                        visible=shown,
                        elem_id="vgg_heatmap",
                    )
                )

        def handle(
            source,
            reference,
            strength,
            lips_strength,
            eyes_strength,
            skin_strength,
            lips_reference,
            eyes_reference,
            skin_reference,
            second_reference,
            mix,
        ):
            out = app.run(
                source,
                reference,
                strength=strength,
                lips_strength=lips_strength,
                eyes_strength=eyes_strength,
                skin_strength=skin_strength,
                lips=lips_reference,
                eyes=eyes_reference,
                skin=skin_reference,
                second=second_reference,
                mix=mix,
            )
            pair = (out.before, out.result) if out.ok else None
            pictures = [picture for picture, _ in out.pictures] or [None] * len(vgg)
            return out.result, pair, *pictures, out.vgg_text or gr.skip(), out.status

        gr.on(
            [button.click, strength.release, *(s.release for s in region_sliders), mix.release],
            handle,
            inputs=[source, reference, strength, *region_sliders, *region_photos, second, mix],
            outputs=[result, before_after, *vgg, vgg_text, status],
            api_name="transfer",
            preprocess=False,  # photos reach MakeupApp as files: read by perceptual.images, with its messages
            trigger_mode="always_last",
            concurrency_limit=1,
            concurrency_id="transfer",
        )
    return blocks


def launch(
    blocks: Any,
    *,
    host: str = LOOPBACK,
    port: int = 7860,
    queue_size: int = 16,
    allowed_paths: Sequence[str | Path] = (),
    max_file_mb: float = MAX_FILE_MB,
) -> None:
    """Serve ``blocks`` at ``http://host:port`` until interrupted: one transfer at a time, at most ``queue_size``
    requests waiting (more are turned away with a message), uploads up to ``max_file_mb`` MB, errors as messages, no
    analytics, no share link. ``allowed_paths``: the files (never folders) the page may serve from the disk, the
    example photos (:attr:`MakeupApp.allowed_files`); uploads and results are served from Gradio's own folders."""
    import gradio as gr

    if queue_size < 1:
        raise ValueError(f"queue_size must be >= 1, got {queue_size}")
    folders = [str(p) for p in allowed_paths if not Path(p).is_file()]
    if folders:
        raise ValueError(f"allowed_paths names files to serve, not folders or missing files: got {folders}")
    system = gr.themes.Default(
        font=("ui-sans-serif", "system-ui", "sans-serif"), font_mono=("ui-monospace", "monospace")
    )  # no web fonts to fetch
    blocks.queue(default_concurrency_limit=1, max_size=queue_size)
    blocks.launch(
        server_name=host,
        server_port=port,
        share=False,
        show_error=False,
        ssr_mode=False,
        theme=system,
        allowed_paths=[str(p) for p in allowed_paths],
        max_file_size=int(max_file_mb * 2**20),
        footer_links=["api"],
    )
