"""--hec-url takes a collector's base URL; a URL with a path is used as given."""

from __future__ import annotations

import pytest

from auditstream.relay.sinks.hec import hec_endpoints


def test_a_base_url_gets_the_standard_paths() -> None:
    endpoints = hec_endpoints("https://splunk.example.com:8088")
    assert endpoints.event == "https://splunk.example.com:8088/services/collector/event"
    assert endpoints.health == "https://splunk.example.com:8088/services/collector/health"
    assert endpoints.ack == "https://splunk.example.com:8088/services/collector/ack"


def test_a_url_with_a_path_is_used_as_given() -> None:
    endpoints = hec_endpoints("https://proxy.example.com/splunk/services/collector/event/1.0")
    assert endpoints.event == "https://proxy.example.com/splunk/services/collector/event/1.0"
    assert endpoints.health == "https://proxy.example.com/splunk/services/collector/health"
    assert endpoints.ack == "https://proxy.example.com/splunk/services/collector/ack"


def test_a_custom_path_keeps_its_query() -> None:
    endpoints = hec_endpoints("https://cribl.example.com:10080/hec?channel=x")
    assert endpoints.event == "https://cribl.example.com:10080/hec?channel=x"


@pytest.mark.parametrize("url", ["splunk:8088", "ftp://splunk", "https://"])
def test_not_an_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        hec_endpoints(url)
