"""ONVIF: WS-Discovery, device inspection (profiles, stream and snapshot URIs) and PTZ."""
