"""Image transformations on delivery (ImageKit's `tr`): the engine, with libvips.

Use (everything blocking runs in a worker thread):

    engine = TransformEngine.from_settings(settings)        # once per process
    chain = engine.parse("w-300,h-200:rt-90")               # BadTransformation (400) if invalid
    etag = engine.etag(chain, digest, accept, is_image=...)  # no I/O: answer 304 before rendering
    rendition = engine.render(chain, source, digest, accept, is_image=...)
    # rendition.path: a file to send (rendition.content_type), or None: send the stored bytes
    # rendition.etag; rendition.vary_accept: add `Vary: Accept`

`source` is the blob's local path or a function that opens a reader of it; it is used only
when the rendition is not cached yet. `accept` is the request's Accept header (or None).
`is_image` is the version's `fileType == "image"`: other files get their stored bytes back
(or the thumbnail placeholder for `n-ik_ml_thumbnail`).

Errors: `mediavault.errors.BadTransformation` (unknown or unsupported parameter, invalid value,
unknown named transformation) and its subclass `TransformationLimit` (input or output too
large), both InvalidRequest (400) with ImageKit's message `Bad Image Transformation Request`;
`exc.ik_error` is the value for ImageKit's `ik-error` header (`EINVALID - ...`, `ELIMIT - ...`).

Chain facts for the route: `chain.original` (orig-true: the stored bytes), `chain.named_only`
(only `n-...` steps: served unsigned for private files, spec §1.4), `chain.auto_format`,
`chain.text` (the canonical form).

Blob lifecycle: `engine.forget(digest)` when a blob is deleted; `engine.check(known_digests,
repair)` for fsck. `engine.thumbnail(digest, opener, is_image)`: the `ik_ml_thumbnail`
rendition's path and content type. The process's engine is `Stores.renditions`.

Modules: params (parse, validate, canonical form), geometry (resize/crop/pad planning, pure),
named (built-in and operator named transformations), formats (f-auto, encoders), pipeline
(pyvips execution), cache (the rendition cache), engine (all of it together).
"""

from mediavault.media.transform.engine import ENGINE_VERSION, Rendition, TransformEngine
from mediavault.media.transform.params import Chain, Output, Step, parse_transformation

__all__ = [
    "ENGINE_VERSION",
    "Chain",
    "Output",
    "Rendition",
    "Step",
    "TransformEngine",
    "parse_transformation",
]
