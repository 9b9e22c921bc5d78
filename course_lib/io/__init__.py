"""File formats, and nothing else: readers and writers that know bytes, not datasets.

The lowest layer of ``course_lib`` (it imports no other part of it). Each module holds one family of formats and
raises errors that name the file and what is wrong with it. Import from the submodules, e.g.
``from course_lib.io.images import read_rgb``.

- :mod:`course_lib.io.atomic`: write a file completely or not at all (used by checkpoints, downloads, caches).
- :mod:`course_lib.io.images`: RGB images, label PNGs (palette or grey indices) and binary (JPEG) masks.
- :mod:`course_lib.io.boxes`: bounding boxes stored as JSON (Kvasir-SEG's ``kavsir_bboxes.json``).
- the chapters' formats: alpha mattes and trimaps (:mod:`course_lib.io.matting`), NIfTI volumes, OFF meshes,
  point files, ``.flo`` and KITTI 16-bit flow PNGs.
"""
