"""HL7 v2 over MLLP: `message` (MSH/MSA header facts), `parser` (`HL7Parser`: framing and
message/ACK matching). Events: `model.hl7`."""

from tocsin.applayer.hl7.parser import HL7Parser

__all__ = ["HL7Parser"]
