"""Package data: trained CNN models that ship with assb_lmp (installed as ``assb_lmp.models``).

Each subfolder is a model folder (``model.keras``, ``model_info.json``, ``metrics.json``)
plus ``provenance.json``: the exact command that trained it, the source folder, file sizes
and SHA-256 sums. ``default/`` is the model that ``python -m assb_lmp predict`` and
``gradcam`` use without ``--model``. Models are data, not output: they are put here only
by ``python -m assb_lmp ship-model MODEL_DIR`` (:mod:`assb_lmp.learn.ship`), which checks
the folder, refuses a model trained on synthetic labels, and keeps it under 8 MiB.
"""
