#!/usr/bin/env python
"""Build the offline kit: hfc_det and everything a machine without network lacks, as wheels
for that machine's Python (an air-gapped cluster node with a site-provided torch).

Run it where the package index answers; copy the kit folder to the node; install there with
the node's own python, nothing downloaded:

    # on the node: python3 -m pip freeze > node-freeze.txt; copy that file here, then
    python tools/offline_kit.py KIT --node-packages node-freeze.txt
    # copy KIT to the node; there:
    python3 -m pip install --no-index --no-deps --target SITE KIT/wheels/*.whl
    export PYTHONPATH=SITE

Never carried: torch and torchvision (the site's build) and what --node-packages names.
KIT/kit.json lists every file with its size and sha256 (hfc_det.utils.offline_kit says more).
"""
import argparse
import sys

from hfc_det.cli.helpers import exit_on_user_error
from hfc_det.utils.offline_kit import DEFAULT_MAX_MIB, build_kit, kit_table, read_package_list


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("output", help="the kit folder to write (replaced only by a complete kit)")
    p.add_argument("--node-packages", metavar="FILE",
                   help="the node's packages (`pip freeze`, `pip list` or one name per line): not carried, and "
                        "their versions pin the resolution (default: only torch and torchvision are the node's)")
    p.add_argument("--python-version", default="3.12", help="the node's Python (default: %(default)s)")
    p.add_argument("--glibc", default="2.28",
                   help="the node's C library, `ldd --version` (default: %(default)s; wheels for 2.17 up to it)")
    p.add_argument("--weights", action="append", default=[], metavar="FILE[:NAME]",
                   help="detector weights to carry as weights/NAME.pth, the model's parameters only "
                        "(default NAME: the file's stem); repeatable")
    p.add_argument("--also", action="append", default=[], metavar="REQUIREMENT",
                   help="one more package to carry with its requirements (pip syntax), e.g. "
                        "imagecorruptions-imaug for the corruption views; repeatable")
    p.add_argument("--max-mib", type=float, default=DEFAULT_MAX_MIB,
                   help="refuse a kit larger than this (default: %(default)g MiB)")
    return p.parse_args(argv)


def _weights(specs):
    pairs = []
    for spec in specs:
        path, _, name = spec.partition(":")
        name = name or path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"--weights {spec}: NAME may hold letters, digits, '_' and '-' only")
        pairs.append((path, name))
    return pairs


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    if args.max_mib <= 0:
        raise ValueError(f"--max-mib must be positive, got {args.max_mib:g}")
    node = read_package_list(args.node_packages) if args.node_packages else None
    manifest = build_kit(args.output, node_packages=node, python_version=args.python_version, glibc=args.glibc,
                         weights=_weights(args.weights), also=args.also, max_mib=args.max_mib,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    print(kit_table(manifest))
    if manifest["node_pins_not_on_index"]:
        print("note: not on the index, so not checked against what the kit carries: "
              + ", ".join(manifest["node_pins_not_on_index"]))
    print(f"kit: {args.output} (manifest {args.output}/kit.json); on the node: "
          f"python3 -m pip install --no-index --no-deps --target SITE {args.output}/wheels/*.whl")


if __name__ == "__main__":
    main()
