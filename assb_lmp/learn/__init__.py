"""The CNN stage: datasets, training, prediction and Grad-CAM from cross-section images.

* :mod:`~assb_lmp.learn.dataset` — export a sweep folder as a dataset, read it back;
* :mod:`~assb_lmp.learn.noise` — how far the labels can be learned (protocol, replicate R²);
* :mod:`~assb_lmp.learn.images` — reading PNG/TIFF and segmenting them into void/AM/SE;
* :mod:`~assb_lmp.learn.networks` — architectures (the published Komori 2022 network);
* :mod:`~assb_lmp.learn.model` — a trained model and its folder, loaded safely;
* :mod:`~assb_lmp.learn.train` — settings and the training loop;
* :mod:`~assb_lmp.learn.predict` — predictions and metrics;
* :mod:`~assb_lmp.learn.gradcam` and :mod:`~assb_lmp.learn.figures` — explanation, figures;
* :mod:`~assb_lmp.learn.backend` — TensorFlow, imported lazily.
"""
