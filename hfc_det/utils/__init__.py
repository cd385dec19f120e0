"""Helpers with no knowledge of frequencies or detectors: atomic writes (:mod:`.atomic`),
names imported on first use (:mod:`.lazy`), the photographs installed packages bundle
(:mod:`.sample_images`), image files in the 0..255 range whatever their bit depth
(:mod:`.image_decoding`), one run per output folder (:mod:`.run_lock`), ``--num-gpus``
checked against the CUDA devices (:mod:`.launch_guard`)."""
