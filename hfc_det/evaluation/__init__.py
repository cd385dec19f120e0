"""Evaluation: per-image AP from one COCOeval pass, the frequency-views evaluator, the
gain/loss comparison and the evaluation run behind ``tools/eval_lfc.py``."""
from .per_image_ap import load_results, per_image_ap, per_image_ap_from_eval

__all__ = ["per_image_ap", "per_image_ap_from_eval", "load_results"]
