"""Test fixtures shared across the suite (COCO, CIFAR, report and eval-run builders)."""
