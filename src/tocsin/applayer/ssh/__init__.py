"""SSH (TCP): a sans-io stream parser giving Suricata's `ssh` events (banners and HASSH).

`parser` holds `SshParser` and the helpers it is made of (`parse_banner`, `kexinit_hassh`).
"""

from tocsin.applayer.ssh.parser import SshParser

__all__ = ["SshParser"]
