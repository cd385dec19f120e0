"""hfc_det: the low/high frequency experiments of Wang et al. (CVPR 2020) as a detectron2
extension (COCO detection) and a classification toolkit (CIFAR-10).

detectron2 is not on PyPI and is therefore not in install_requires:
`tools/install_detectron2.sh` installs it (see docs/install.md).
"""
from setuptools import find_packages, setup

# Pinned: a new theme or plugin release can add warnings, and the strict build fails on any.
DOCS = ["mkdocs==1.6.1", "mkdocs-material==9.8.2", "mkdocstrings[python]==1.0.8"]

setup(
    name="hfc_det",
    version="0.1.0",
    description="Low/high frequency component analysis of CNN detectors and classifiers",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    # detectron2's license (LICENSE).
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["hfc_det", "hfc_det.*"]),
    # The configs ship inside the package (as detectron2 ships its model zoo's), so that
    # `--config retinanet_R50_FPN` resolves after a non-editable install too.
    package_data={"hfc_det": ["configs/*.yaml", "configs/*/*.yaml", "configs/*/*/*.yaml"]},
    install_requires=[
        "torch",
        "torchvision",
        "numpy",
        "pycocotools>=2.0.2",
        # Same cv2 API as opencv-python, without the GUI libraries a server lacks.
        "opencv-python-headless",
        "matplotlib",
        "tqdm",
        "scipy",
        "Pillow",
        "PyYAML",
        # detectron2's DefaultTrainer writes TensorBoard events.
        "tensorboard",
        # YAML configs with _BASE_ for the classification experiments (no detectron2 needed).
        "fvcore",
        # --dataset digits: the bundled 8x8 handwritten digits.
        "scikit-learn",
        # The default COCOeval backend (C++; same numbers as pycocotools, several times
        # faster; its per-image records are readable since 1.6.5, its wheels need no compiler).
        "faster-coco-eval>=1.8",
        # hfc_det.load_run: an output folder as DataFrames for a notebook.
        "pandas",
    ],
    extras_require={
        # bundled real photos (scikit-image, scikit-learn) and the 8x8 digits (scikit-learn)
        "demo": ["scikit-image", "scikit-learn"],
        # TIDE's error breakdown per view (eval_lfc.py). tidecv itself requires the GUI
        # opencv-python, which would share the cv2 package with opencv-python-headless:
        # `make setup` installs tidecv with --no-deps instead (it only needs cv2, which
        # opencv-python-headless provides); see docs/install.md.
        "tide": ["tidecv", "pandas", "seaborn", "appdirs"],
        # COCO-C corruption views (corrupt_<name>_s<severity>): imagecorruptions-imaug==1.1.5 needs
        # these; it too requires the GUI opencv-python, so `make setup` installs it with --no-deps.
        "corruptions": ["numba>=0.53", "scikit-image"],
        # The docs site (mkdocs.yml): MkDocs, its Material theme, the API page from docstrings.
        "docs": DOCS,
        # playwright drives Debian's /usr/bin/chromium in the report's and the docs site's
        # browser tests (no browser download: `playwright install` is never run). The suite
        # builds the docs site strictly (tests/test_docs_site.py), hence DOCS.
        "test": ["pytest", "hypothesis", "scikit-image", "scikit-learn", "playwright",
                 "pandas", "seaborn", "appdirs", *DOCS],
    },
)
