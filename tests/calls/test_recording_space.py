"""New calls go unrecorded while the recordings disk is nearly full, with one alert each way."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock

from hotline.calls.recording_space import RecordingSpace

MB = 1024 * 1024


def test_recording_stops_under_the_threshold_and_resumes_with_one_alert_each_way():
    """Below min_free_mb recording stops with one 'stopped' alert; repeated checks raise no
    more; freed space resumes it with one 'resumed' alert."""
    free = {"bytes": 900 * MB}
    alerts = []
    clock = Clock()
    space = RecordingSpace(folder=Path("/rec"), min_free_mb=500, interval_s=10, clock=clock,
                           alert=lambda action, details: alerts.append((action, details)),
                           free_bytes=lambda _p: free["bytes"])
    space.start()
    assert space.allowed and alerts == []
    free["bytes"] = 100 * MB
    clock.advance(10)
    clock.advance(10)
    assert not space.allowed
    assert [a for a, _ in alerts] == ["recording.stopped"]
    assert alerts[0][1]["free_mb"] == 100.0
    free["bytes"] = 800 * MB
    clock.advance(10)
    assert space.allowed and [a for a, _ in alerts] == ["recording.stopped", "recording.resumed"]
    space.stop()


def test_a_folder_this_host_cannot_see_never_stops_recording():
    """A PBX on another host (no folder): calls are always recorded."""
    space = RecordingSpace(folder=None, min_free_mb=500, interval_s=10, clock=Clock(),
                           free_bytes=lambda _p: 0)
    space.start()
    assert space.check() and space.allowed
    space.stop()
