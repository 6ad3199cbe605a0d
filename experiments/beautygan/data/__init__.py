"""What BeautyGAN reads and measures, without Lightning: the MT dataset (:mod:`~beautygan.data.mt`), its face
regions (:mod:`~beautygan.data.regions`), the image-size rule (:mod:`~beautygan.data.image_size`), synthetic faces
(:mod:`~beautygan.data.synthetic`, :mod:`~beautygan.data.synthetic_pose`), face detection, alignment and landmarks
(:mod:`~beautygan.data.faces`), the size limits of uploaded photos (:mod:`~beautygan.data.photo_limits`) and the
transfer metrics (:mod:`~beautygan.data.metrics`), which training's validation and ``beautygan evaluate`` share.

The base of the package with :mod:`beautygan.models`: nothing here imports training, inference or the app."""
