"""The console's softphone: agents' browsers as their phones (SIP over WebSocket, WebRTC)."""

from hotline.softphone.resource import SoftphoneResource
from hotline.softphone.service import Credentials, SoftphoneError, SoftphoneService
from hotline.softphone.watcher import RegistrationWatcher

__all__ = ["Credentials", "RegistrationWatcher", "SoftphoneError", "SoftphoneResource",
           "SoftphoneService"]
