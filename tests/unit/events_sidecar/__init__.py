"""Unit tests of ``headrace sidecar`` (spool, forwarder, HTTP server) against a loopback upstream."""
