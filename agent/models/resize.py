"""The client-side resize: each screenshot becomes exactly the image the model sees.

Qwen2.5-VL answers in pixels of the image it was fed (after `smart_resize`).
Resizing on the client, once, to that exact size makes the processor's (or a
server's) own resize the identity, so the coordinates in the prompt (the
announced screen size) and in the answer refer to the image this process
knows, and `CoordinateFrame` maps them back to the screenshot.
"""

from __future__ import annotations

from PIL import Image


def to_model_image(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The screenshot as RGB at exactly `size` (its smart_resize size), resized once.

    Transparent pixels are laid on white, as the Qwen2-VL image processor does.
    """
    if image.mode != "RGB":
        if image.mode in ("RGBA", "LA", "P", "PA"):
            image = image.convert("RGBA")
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image)
        image = image.convert("RGB")
    if image.size != tuple(size):
        # Bicubic, as the Qwen2-VL image processor resizes.
        image = image.resize(tuple(size), Image.Resampling.BICUBIC)
    return image
