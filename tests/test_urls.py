from ingest.urls import mask_secrets_in_text, mask_url, split_credentials, with_credentials


def test_credentials_are_split_out_of_a_stream_url() -> None:
    parts = split_credentials("rtsp://admin:p%40ss:w0rd@10.0.0.5:554/Streaming/101")
    assert parts.url == "rtsp://10.0.0.5:554/Streaming/101"
    assert parts.username == "admin"
    assert parts.password == "p@ss:w0rd"


def test_credentials_round_trip_with_special_characters() -> None:
    url = with_credentials("rtsp://cam.local/live", "ad min", "a/b@c:d")
    parts = split_credentials(url)
    assert (parts.url, parts.username, parts.password) == ("rtsp://cam.local/live", "ad min",
                                                           "a/b@c:d")


def test_masked_url_shows_user_but_not_password() -> None:
    assert mask_url("rtsp://10.0.0.5/s0", "admin", True) == "rtsp://admin:***@10.0.0.5/s0"
    assert mask_url("rtsp://admin:secret@10.0.0.5/s0") == "rtsp://admin:***@10.0.0.5/s0"
    assert mask_url("rtsp://10.0.0.5/s0") == "rtsp://10.0.0.5/s0"


def test_ipv6_hosts_survive_splitting() -> None:
    assert split_credentials("rtsp://u:p@[fe80::1]:554/x").url == "rtsp://[fe80::1]:554/x"


def test_passwords_in_free_text_are_masked() -> None:
    text = "open failed for rtsp://admin:Secr3t@10.0.0.5/s0 and http://u:x@h/onvif: timeout"
    masked = mask_secrets_in_text(text)
    assert "Secr3t" not in masked and ":x@" not in masked
    assert "rtsp://admin:***@10.0.0.5/s0" in masked
