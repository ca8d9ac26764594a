"""The PBX sandbox: a cached Debian root with Asterisk 22 running the hotline PBX and the city simulator."""
