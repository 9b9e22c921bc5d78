"""The registry entries of Chapter 11 (panoptic segmentation): COCO 2017 panoptic and Cityscapes panoptic, as data.

Read by :mod:`course_lib.data.registry` (each dict becomes a :class:`course_lib.data.registry.DatasetInfo`), like
:mod:`course_lib.data.matting_entries`. Both are in COCO panoptic format, read by
:mod:`course_lib.data.coco_panoptic` (Cityscapes' files and the conversion to them:
:mod:`course_lib.data.cityscapes_panoptic`); the samples are :mod:`course_lib.synthetic.panoptic`. The categories
(with ``isthing``) come from each JSON, so the entries list no classes.
"""

from __future__ import annotations

__all__ = ["DATASETS"]

#: keyword arguments of the DatasetInfo of each panoptic dataset
DATASETS: tuple[dict, ...] = (
    dict(
        name="coco_panoptic", title="COCO 2017 panoptic segmentation (80 things, 53 stuff)", chapter="11",
        folders=("coco2017_panoptic", "coco_panoptic", "coco2017", "coco"),
        markers=(("annotations/panoptic_val2017.json", "annotations/panoptic_val2017/"),
                 ("annotations/panoptic_train2017.json", "annotations/panoptic_train2017/")),
        download_size=20_000_000_000,
        note="""\
COCO 2017 panoptic: 118 287 training and 5 000 validation images, 133 categories (80 things, 53 stuff), every
pixel one segment or void. Official layout (the same folder as COCO instances works):
    <root>/annotations/panoptic_{train,val}2017.json         segments_info per image, categories with isthing
    <root>/annotations/panoptic_{train,val}2017/<id>.png     RGB, segment id = R + 256 G + 256^2 B, 0 = void
    <root>/{train,val}2017/<id>.jpg                          the pictures
Get it (no registration; COCO publishes no checksums):
  1. http://images.cocodataset.org/annotations/panoptic_annotations_trainval2017.zip (821 MB): unpack it under
     <data root>/coco2017_panoptic/, then unpack the two archives inside it, annotations/panoptic_val2017.zip and
     annotations/panoptic_train2017.zip, into annotations/ (they hold the PNG folders).
  2. http://images.cocodataset.org/zips/val2017.zip (1 GB) and, for a full run, train2017.zip (18 GB), unpacked
     into the same folder.
On Kaggle: attach a public COCO 2017 dataset with the panoptic annotations and pass its folder.
Categories and colours: panopticapi's panoptic_coco_categories.json (the same as the JSON's categories).
Licence: annotations CC BY 4.0; the images keep their Flickr licences (images[].license).
Cite: A. Kirillov, K. He, R. Girshick, C. Rother, P. Dollar, "Panoptic Segmentation", CVPR 2019, arXiv:1801.00868
(and T.-Y. Lin et al., "Microsoft COCO", ECCV 2014).
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.panoptic).""",
        licence="annotations CC BY 4.0 (COCO Consortium); images under their own Flickr licences",
        citation="Kirillov et al., Panoptic Segmentation, CVPR 2019, arXiv:1801.00868; Lin et al., COCO, ECCV 2014",
        sample_writer="course_lib.synthetic.panoptic:write_coco_sample"),
    dict(
        name="cityscapes_panoptic", title="Cityscapes panoptic (19 classes: 8 things, 11 stuff)", chapter="11",
        folders=("cityscapes", "Cityscapes"),
        markers=(("gtFine/cityscapes_panoptic_val.json", "gtFine/cityscapes_panoptic_val/"),
                 ("gtFine/cityscapes_panoptic_train.json", "gtFine/cityscapes_panoptic_train/")),
        note="""\
Cityscapes panoptic: the fine annotations (2 975 train, 500 val images) in COCO panoptic format, 19 categories
(ids = Cityscapes label ids; person, rider, car, truck, bus, train, motorcycle, bicycle are things).
Official layout, as cityscapesScripts' createPanopticImgs.py writes it:
    <root>/gtFine/cityscapes_panoptic_{split}.json and <root>/gtFine/cityscapes_panoptic_{split}/*_panoptic.png
Get it: register at https://www.cityscapes-dataset.com/register/ (free; non-commercial use, no redistribution),
download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, unpack both under <data root>/cityscapes/,
then make the panoptic files: either `csCreatePanopticImgs` (pip install cityscapesscripts) or
course_lib.data.cityscapes_panoptic.convert_cityscapes_split(root, "val", out=<work folder>), the same rule
(segment id = the instanceIds value, label id * 1000 + n for instances; a value < 1000 of a thing class is crowd).
Cite: M. Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene Understanding", CVPR 2016.
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.panoptic).""",
        licence="non-commercial use, no redistribution (Cityscapes licence)",
        citation="Cordts et al., The Cityscapes Dataset for Semantic Urban Scene Understanding, CVPR 2016",
        sample_writer="course_lib.synthetic.panoptic:write_cityscapes_sample"),
)
