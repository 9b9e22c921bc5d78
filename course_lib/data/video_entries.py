"""The registry entries of Chapters 7 and 8 (video object datasets): DAVIS 2016/2017, YouTube-VOS, YouTube-VIS, UVO.

Read by :mod:`course_lib.data.registry` (each dict becomes a :class:`course_lib.data.registry.DatasetInfo`), like
:mod:`course_lib.data.matting_entries`. The layouts are read by :mod:`course_lib.data.davis` and
:mod:`course_lib.data.youtube`; the synthetic samples are :mod:`course_lib.synthetic.davis` and
:mod:`course_lib.synthetic.youtube`. Only the DAVIS archives are public downloads without a registration; their
publishers give no checksum, so none is recorded here (fetch them by hand, as the notes say).
"""

from __future__ import annotations

__all__ = ["DATASETS"]

_DAVIS_CITE = ("Perazzi et al., A Benchmark Dataset and Evaluation Methodology for Video Object Segmentation, "
               "CVPR 2016")

#: keyword arguments of the DatasetInfo of each video dataset
DATASETS: tuple[dict, ...] = (
    dict(
        name="davis2016", title="DAVIS 2016 (single-object video object segmentation)", chapter="7",
        folders=("davis2016", "DAVIS2016", "DAVIS", "davis"),
        markers=(("Annotations/480p/", "JPEGImages/480p/"), ("Annotations/480p/",)),
        classes=("background", "object"), ignore_index=None,
        note="""\
DAVIS 2016: 50 sequences (30 train, 20 val) at 854x480 (and 1080p), every frame annotated with one binary mask
(grey PNG, 0/255). Get it: https://davischallenge.org/davis2016/code.html ("DAVIS-data.zip", TrainVal, 480p and
1080p; no checksum is published); unpack it under <data root>/davis2016/ so that DAVIS/Annotations/480p/<seq>/ and
DAVIS/ImageSets/480p/val.txt exist. Read with course_lib.data.davis.DAVIS(root, year="2016").
Licence: the sequences are owned by the DAVIS authors and licensed CC BY 4.0 unless stated otherwise (DAVIS README).
Cite: F. Perazzi, J. Pont-Tuset, B. McWilliams, L. Van Gool, M. Gross, A. Sorkine-Hornung, "A Benchmark Dataset
and Evaluation Methodology for Video Object Segmentation", CVPR 2016.
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.davis).""",
        licence="CC BY 4.0 unless stated otherwise (DAVIS README)",
        citation=_DAVIS_CITE,
        sample_writer="course_lib.synthetic.davis:write_sample_2016"),

    dict(
        name="davis2017", title="DAVIS 2017 (multi-object video object segmentation)", chapter="7",
        folders=("davis2017", "DAVIS2017", "DAVIS", "davis"),
        markers=(("Annotations/480p/", "ImageSets/2017/"), ("Annotations/Full-Resolution/", "ImageSets/2017/")),
        classes=(), ignore_index=255,
        note="""\
DAVIS 2017: 150 sequences (60 train, 30 val, 30 test-dev, 30 test-challenge), several objects per sequence, every
frame annotated with a palette PNG of object ids (0 background, 1..N objects, 255 void). Get it:
https://davischallenge.org/davis2017/code.html ("DAVIS-2017-trainval-480p.zip", about 800 MB, or
"DAVIS-2017-trainval-Full-Resolution.zip"; no checksum is published); unpack it under <data root>/davis2017/ so
that DAVIS/Annotations/480p/<seq>/ and DAVIS/ImageSets/2017/val.txt exist. Read with
course_lib.data.davis.DAVIS(root, year="2017", split="val"); score with python -m course_lib.score davis.
Licence: CC BY 4.0 unless stated otherwise (DAVIS README); check the terms on the download page.
Cite: J. Pont-Tuset, F. Perazzi, S. Caelles, P. Arbelaez, A. Sorkine-Hornung, L. Van Gool, "The 2017 DAVIS
Challenge on Video Object Segmentation", arXiv:1704.00675 (and Perazzi et al., CVPR 2016).
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.davis).""",
        licence="CC BY 4.0 unless stated otherwise (DAVIS README)",
        citation="Pont-Tuset et al., The 2017 DAVIS Challenge on Video Object Segmentation, arXiv:1704.00675; "
                 + _DAVIS_CITE,
        sample_writer="course_lib.synthetic.davis:write_sample"),

    dict(
        name="youtube_vos", title="YouTube-VOS (large-scale video object segmentation)", chapter="7",
        folders=("youtube_vos", "YouTube-VOS", "youtube-vos", "ytvos", "YTVOS"),
        markers=(("train/meta.json", "train/JPEGImages/"), ("valid/meta.json", "valid/JPEGImages/")),
        classes=(), ignore_index=None,
        note="""\
YouTube-VOS 2018/2019: 3471 training videos (65 categories) and 474 (2019: 507) validation videos (with unseen
categories besides the 65), objects annotated every 5th frame (palette PNGs, frames 00000, 00005, ...),
objects may first appear mid-video.
Layout: {train,valid}/{JPEGImages,Annotations}/<video>/NNNNN.{jpg,png} and {train,valid}/meta.json
({"videos": {"<video>": {"objects": {"1": {"category": ..., "frames": ["00000", ...]}}}}}). Get it after
registering at https://youtube-vos.org/dataset/ (CodaLab; Google Drive links); unpack under
<data root>/youtube_vos/. Read with course_lib.data.youtube.YouTubeVOS(root, split="train").
Licence: annotations CC BY 4.0; the videos are YouTube's (see the dataset's terms).
Cite: N. Xu et al., "YouTube-VOS: A Large-Scale Video Object Segmentation Benchmark", arXiv:1809.03327.
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.youtube).""",
        licence="annotations CC BY 4.0 (YouTube-VOS terms); videos from YouTube",
        citation="Xu et al., YouTube-VOS: A Large-Scale Video Object Segmentation Benchmark, arXiv:1809.03327",
        sample_writer="course_lib.synthetic.youtube:write_vos_sample"),

    dict(
        name="youtube_vis", title="YouTube-VIS (video instance segmentation)", chapter="7",
        folders=("youtube_vis", "YouTube-VIS", "youtube-vis", "ytvis", "YTVIS"),
        markers=(("train.json", "train/JPEGImages/"), ("annotations/instances_train_sub.json",),
                 ("train/instances.json",)),
        classes=(), ignore_index=None,
        note="""\
YouTube-VIS 2019/2021: video instance segmentation, 40 categories (2019: 2238, 2021: 2985 training videos),
every 5th frame of each video labelled, one annotation per object instance with a per-frame list of RLE masks
(null where the object is absent). Layout: train/JPEGImages/<video>/NNNNN.jpg and a video-level JSON (train.json or
train/instances.json: "videos" with "file_names", "annotations" with "segmentations", "categories"). Get it after
registering at https://youtube-vos.org/dataset/vis/ (CodaLab); unpack under <data root>/youtube_vis/. Read with
course_lib.data.youtube.read_vis_json.
Licence: annotations CC BY 4.0; the videos are YouTube's.
Cite: L. Yang, Y. Fan, N. Xu, "Video Instance Segmentation", ICCV 2019, arXiv:1905.04804.
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.youtube).""",
        licence="annotations CC BY 4.0 (YouTube-VIS terms); videos from YouTube",
        citation="Yang, Fan, Xu, Video Instance Segmentation, ICCV 2019, arXiv:1905.04804",
        sample_writer="course_lib.synthetic.youtube:write_vis_sample"),

    dict(
        name="uvo", title="UVO (Unidentified Video Objects, open-world video segmentation)", chapter="7",
        folders=("uvo", "UVO"),
        markers=(("VideoDenseSet/UVO_video_*.json",), ("VideoSparseSet/",)),
        classes=("object",), ignore_index=None,
        note="""\
UVO v1.0: open-world, class-agnostic segmentation of every object in Kinetics videos: a dense set (every frame of
3-second clips at 30 fps labelled; VideoDenseSet/UVO_video_{train,val}_dense.json in the YouTube-VIS format, videos
with their YouTube id "ytid"), a sparse set (VideoSparseSet/: the same videos' 1 fps labels in that video format)
and FrameSet/UVO_frame_{train,val}.json (COCO image format). Get it from
https://sites.google.com/view/unidentified-video-object (Google Drive); split the Kinetics clips into frames with the
release's video2frames.py, which writes uvo_videos_dense_frames/<ytid>/0.png, 1.png, ... (the JSONs' file_names).
Put the kit under <data root>/uvo/. Read with course_lib.data.youtube.read_vis_json(..., class_agnostic=True).
Licence: annotations CC BY 4.0 (UVO terms); videos from Kinetics (YouTube).
Cite: W. Wang, M. Feiszli, H. Wang, D. Tran, "Unidentified Video Objects: A Benchmark for Dense, Open-World
Segmentation", ICCV 2021, arXiv:2104.04691.
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.youtube).""",
        licence="annotations CC BY 4.0 (UVO terms); videos from Kinetics (YouTube)",
        citation="Wang et al., Unidentified Video Objects: A Benchmark for Dense, Open-World Segmentation, ICCV 2021, "
                 "arXiv:2104.04691",
        sample_writer="course_lib.synthetic.youtube:write_uvo_sample"),
)
