"""detectron2's engine for the project: training on the project's configs
(:mod:`.training`) and the tools' quiet run setup and logging (:mod:`.run_logging`)."""
