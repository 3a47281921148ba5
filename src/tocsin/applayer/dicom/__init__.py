"""DICOM upper layer (PS3.8) and DIMSE (PS3.7): `pdu` (PDUs), `dimse` (command sets, statuses,
identifier query facts), `uids` (names of common UIDs), `transactions` (request/response
matching), `parser` (`DicomParser`, the stream state machine). Events: `model.dicom`."""

from tocsin.applayer.dicom.parser import DicomParser

__all__ = ["DicomParser"]
