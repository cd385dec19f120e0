# Two commands: `make demo` and `make test`. Both set up .venv/ first (idempotent).
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
TORCH_PIN := torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.hfc_det-setup

.PHONY: setup test test-slow demo bench clean

setup: $(STAMP)

$(STAMP): setup.py tools/install_detectron2.sh
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@# A user who already has torch in the venv keeps it.
	@$(VPY) -c "import torch, torchvision" 2>/dev/null || $(VPY) -m pip install $(TORCH_PIN)
	$(VPY) -m pip install -q -e ".[test,corruptions]"
	@# TIDE (error breakdown): tidecv's own requirement, the GUI opencv-python, would clash
	@# with opencv-python-headless over cv2; its other needs come with the test extra.
	$(VPY) -m pip install -q --no-deps "tidecv==1.0.1"
	@# COCO-C corruption views: the same clash (imagecorruptions-imaug requires opencv-python);
	@# its other needs (numba, scikit-image) come with the corruptions extra.
	$(VPY) -m pip install -q --no-deps "imagecorruptions-imaug==1.1.5"
	bash tools/install_detectron2.sh $(VPY)
	@touch $@

test: setup
	$(VPY) -m pytest -q

test-slow: setup
	$(VPY) -m pytest -q -m slow

# make demo SEED=2: another training seed (initialisation and sampling order; same data)
SEED ?=
demo: setup
	$(VPY) tools/demo_frequency.py --output output/demo/frequency
	$(VPY) tools/demo.py --output output/demo $(if $(SEED),SEED $(SEED))

bench: setup
	$(VPY) benchmarks/run_all.py

clean:
	rm -rf output .pytest_cache
