"""Helpers with no knowledge of frequencies or detectors: atomic writes (:mod:`.atomic`),
names imported on first use (:mod:`.lazy`), the photographs installed packages bundle
(:mod:`.sample_images`)."""
