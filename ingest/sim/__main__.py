"""``python -m ingest.sim``: the simulator on its own (``camera-center sim`` is the same)."""

import argparse
from pathlib import Path

from ingest.sim.app import run
from ingest.sim.fleet import build_fleet, ids_from_csv, numbered_ids


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve simulated RTSP cameras.")
    parser.add_argument("--cameras", type=int, default=400)
    parser.add_argument("--ids-from", type=Path, help="CSV whose id column names the cameras")
    parser.add_argument("--cache-dir", type=Path, default=Path("data/sim-cache"))
    parser.add_argument("--rtsp-port", type=int, default=8554)
    parser.add_argument("--control-port", type=int, default=8555)
    parser.add_argument("--no-outages", action="store_true",
                        help="no scheduled dark periods (steady fleet for measurements)")
    args = parser.parse_args()
    ids = ids_from_csv(args.ids_from) if args.ids_from else numbered_ids(args.cameras)
    run(build_fleet(ids, outages=not args.no_outages), args.cache_dir, rtsp_port=args.rtsp_port,
        control_port=args.control_port)


if __name__ == "__main__":
    main()
