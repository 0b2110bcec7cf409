from camera_center.cli import main

main()
