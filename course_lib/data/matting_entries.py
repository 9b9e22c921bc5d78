"""The registry entries of Chapter 2 (image matting): Adobe Composition-1k and PPM-100, kept as data.

Read by :mod:`course_lib.data.registry` (each dict becomes a :class:`course_lib.data.registry.DatasetInfo`), like
the label sets of :mod:`course_lib.data.labels`. Neither dataset can be downloaded automatically: Composition-1k is
given by Adobe on request, PPM-100 sits on Google Drive; the notes say where to get them and where to put them.
The layouts are read by :mod:`course_lib.data.matting`; the synthetic samples are :mod:`course_lib.synthetic.matting`.
"""

from __future__ import annotations

__all__ = ["DATASETS"]

#: keyword arguments of the DatasetInfo of each matting dataset
DATASETS: tuple[dict, ...] = (
    dict(
        name="composition1k", title="Adobe Composition-1k (Deep Image Matting dataset)", chapter="2",
        folders=("Composition-1k", "composition1k", "Adobe_Deep_Matting_Dataset", "adobe_matting", "comp1k", "matting"),
        up_from=("Combined_Dataset", "Composition-1k-testset"),
        markers=(("Combined_Dataset/Training_set/training_fg_names.txt",),
                 ("Combined_Dataset/Test_set/test_fg_names.txt",),
                 ("Composition-1k-testset/merged/", "Composition-1k-testset/alpha_copy/",
                  "Composition-1k-testset/trimaps/")),
        note="""\
Adobe Composition-1k, the Deep Image Matting dataset: 431 training foregrounds with alpha mattes (each composited
over 100 MS COCO backgrounds: 43 100 training images) and 50 test foregrounds with alphas and trimaps (each over 20
PASCAL VOC backgrounds: the 1000 test images of "Composition-1k"). It cannot be downloaded automatically: Adobe
gives it on request, under a licence agreement for non-commercial research, and forbids redistribution.
  1. Request it as the Deep Image Matting page says, https://sites.google.com/view/deepimagematting (the authors at
     Adobe send Adobe_Deep_Matting_Dataset.zip after you accept the licence agreement).
  2. Unpack it under <data root>/composition1k/ so that this file exists:
         <data root>/composition1k/Combined_Dataset/Training_set/training_fg_names.txt
  3. Training backgrounds: the MS COCO 2014 training images named in training_bg_names.txt
     (http://images.cocodataset.org/zips/train2014.zip, about 13 GB), unpacked to
     <data root>/composition1k/train2014/ (or passed as bg_root=). The test composition uses PASCAL VOC images
     (test_bg_names.txt).
  4. The test set as matting code reads it: <data root>/composition1k/Composition-1k-testset/{merged,alpha_copy,
     trimaps}/ (PNG, <fg name>_<k>.png). It is made once from Test_set and the VOC images by the release's rule,
     20 backgrounds per foreground: python data_scripts/compose_composition1k.py --combined
     <data root>/composition1k/Combined_Dataset --backgrounds <VOC JPEGImages> --out <data root>/composition1k
  On Kaggle: no public mirror is named here (the licence does not allow redistribution); upload your own copy as a
  private dataset.
Cite: N. Xu, B. Price, S. Cohen, T. Huang, "Deep Image Matting", CVPR 2017, arXiv:1703.03872.
Without the real data the quick profile uses a SYNTHETIC sample in both layouts (course_lib.synthetic.matting).""",
        licence="Adobe Deep Image Matting Dataset licence agreement: non-commercial research only, no redistribution "
                "(some training foregrounds are under Creative Commons licences, listed in the release)",
        citation="Xu, Price, Cohen, Huang, Deep Image Matting, CVPR 2017, arXiv:1703.03872",
        sample_writer="course_lib.synthetic.matting:write_sample"),

    dict(
        name="ppm100", title="PPM-100 (photographic portrait matting benchmark)", chapter="2",
        folders=("PPM-100", "PPM100", "ppm100", "ppm-100"), max_depth=2,
        markers=(("image/", "matte/"),),
        note="""\
PPM-100: 100 finely annotated portrait photographs (1080p to 4k) with alpha mattes, the benchmark of MODNet.
Layout: PPM-100/image/<name>.jpg and PPM-100/matte/<name>.png (same names); read with
course_lib.data.matting.PortraitMatting (trimaps are generated from the mattes).
Get it: https://github.com/ZHKKKe/PPM links the archive on Google Drive (and Baidu Pan, code PPMB); download it by
hand and unpack it under <data root>/ppm100/ so that <data root>/ppm100/PPM-100/image/ exists. No Kaggle mirror is
named here.
Licence: the photographs come from Flickr under Creative Commons licences that allow commercial use and changes; the
alpha mattes are CC BY-NC-SA 4.0.
Cite: Z. Ke, J. Sun, K. Li, Q. Yan, R. W. H. Lau, "MODNet: Real-Time Trimap-Free Portrait Matting via Objective
Decomposition", AAAI 2022, arXiv:2011.11961.
The same loader reads other portrait sets with plain image + alpha folders (P3M-10k, AM-2k: pass their folder
names).
Without the real data the quick profile uses a SYNTHETIC sample in this layout (course_lib.synthetic.matting).""",
        licence="photographs: Flickr Creative Commons (commercial use and changes allowed); mattes: CC BY-NC-SA 4.0",
        citation="Ke et al., MODNet: Real-Time Trimap-Free Portrait Matting via Objective Decomposition, AAAI 2022, "
                 "arXiv:2011.11961",
        sample_writer="course_lib.synthetic.matting:write_portrait_sample"),
)
