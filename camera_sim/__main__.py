"""``python -m camera_sim``: the simulator on its own (``camera-center sim`` is the same)."""

import argparse
from pathlib import Path

from camera_sim.app import run
from camera_sim.fleet import build_fleet, ids_from_csv, numbered_ids
from camera_sim.scenes import FPS


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve simulated RTSP cameras.")
    parser.add_argument("--cameras", type=int, default=400)
    parser.add_argument("--ids-from", type=Path, help="CSV whose id column names the cameras")
    parser.add_argument("--cache-dir", type=Path, default=Path("data/sim-cache"))
    parser.add_argument("--rtsp-port", type=int, default=8554)
    parser.add_argument("--control-port", type=int, default=8555)
    parser.add_argument("--no-outages", action="store_true",
                        help="no scheduled dark periods (steady fleet for measurements)")
    parser.add_argument("--sub-fps", type=int, default=FPS, choices=range(1, 31),
                        metavar="1-30", help="frames per second of the sub streams (main "
                        f"streams run at {FPS}; keyframes stay 1 s apart)")
    parser.add_argument("--mtu", type=int, choices=range(576, 65001), metavar="576-65000",
                        help="RTP packet size (default 1400, as cameras send; larger packets "
                        "cost client and server less per stream)")
    args = parser.parse_args()
    ids = ids_from_csv(args.ids_from) if args.ids_from else numbered_ids(args.cameras)
    run(build_fleet(ids, outages=not args.no_outages), args.cache_dir, rtsp_port=args.rtsp_port,
        control_port=args.control_port, sub_fps=args.sub_fps, mtu=args.mtu)


if __name__ == "__main__":
    main()
