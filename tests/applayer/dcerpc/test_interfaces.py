"""The interface / operation table detectors rely on: well-formed, and the operations of the
attacks named in `applayer.dcerpc.interfaces` at their MS-* opnums."""

from __future__ import annotations

import re

import pytest

from tocsin.applayer.dcerpc.interfaces import INTERFACES, procedure_name, service_name

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_table_is_well_formed() -> None:
    for uuid, (service, ops) in INTERFACES.items():
        assert UUID.match(uuid), uuid
        assert service and " " not in service
        named = [o for o in ops if o != "-"]
        assert len(named) == len(set(named)), service  # one opnum per operation
        assert all(re.fullmatch(r"[A-Za-z_0-9]+", o) for o in named), service


@pytest.mark.parametrize(
    ("uuid", "opnum", "service", "procedure"),
    [
        ("367abb81-9844-35f1-ad32-98f038001003", 12, "svcctl", "CreateServiceW"),  # PsExec
        ("367abb81-9844-35f1-ad32-98f038001003", 45, "svcctl", "CreateServiceWOW64W"),
        ("367abb81-9844-35f1-ad32-98f038001003", 19, "svcctl", "StartServiceW"),
        ("e3514235-4b06-11d1-ab04-00c04fc2dcd2", 3, "drsuapi", "DRSGetNCChanges"),  # DCSync
        ("e3514235-4b06-11d1-ab04-00c04fc2dcd2", 2, "drsuapi", "DRSReplicaSync"),
        ("1ff70682-0a51-30e8-076d-740be8cee98b", 0, "atsvc", "NetrJobAdd"),
        ("86d35949-83c9-4044-b424-db363231fd0c", 1, "ITaskSchedulerService", "SchRpcRegisterTask"),
        ("12345678-1234-abcd-ef00-01234567cffb", 26, "netlogon", "NetrServerAuthenticate3"),
        ("12345678-1234-abcd-ef00-01234567cffb", 30, "netlogon", "NetrServerPasswordSet2"),
        (
            "12345678-1234-abcd-ef00-0123456789ab",
            65,
            "spoolss",
            "RpcRemoteFindFirstPrinterChangeNotificationEx",
        ),
        ("12345678-1234-abcd-ef00-0123456789ab", 89, "spoolss", "RpcAddPrinterDriverEx"),
        ("c681d488-d850-11d0-8c52-00c04fd90f7e", 0, "efsrpc", "EfsRpcOpenFileRaw"),  # PetitPotam
        ("12345778-1234-abcd-ef00-0123456789ac", 64, "samr", "SamrConnect5"),
        ("12345778-1234-abcd-ef00-0123456789ab", 76, "lsarpc", "LsarLookupSids3"),
        ("4b324fc8-1670-01d3-1278-5a47bf6ee188", 15, "srvsvc", "NetrShareEnum"),
        ("338cd001-2244-31f1-aaaa-900038001003", 22, "winreg", "BaseRegSetValue"),
        ("82273fdc-e32a-18c3-3f78-827929dc23ea", 0, "eventlog", "ElfrClearELFW"),
        ("3dde7c30-165d-11d1-ab8f-00805f14db40", 0, "backupkey", "BackuprKey"),
        ("9556dc99-828c-11cf-a37e-00aa003240c7", 24, "IWbemServices", "ExecMethod"),
        ("000001a0-0000-0000-c000-000000000046", 4, "IRemoteSCMActivator", "RemoteCreateInstance"),
        ("4fc742e0-4a10-11cf-8273-00aa004ae673", 13, "netdfs", "NetrDfsRemoveStdRoot"),
        ("e1af8308-5d1f-11c9-91a4-08002b14a0fa", 3, "epmapper", "ept_map"),
    ],
)
def test_attack_operations(uuid: str, opnum: int, service: str, procedure: str) -> None:
    assert service_name(uuid) == service
    assert procedure_name(uuid, opnum) == procedure


def test_unknown_and_unused() -> None:
    assert service_name("00000000-0000-0000-0000-000000000000") is None
    assert procedure_name("367abb81-9844-35f1-ad32-98f038001003", 10) is None  # not on wire
    assert procedure_name("367abb81-9844-35f1-ad32-98f038001003", 999) is None
    assert procedure_name("367abb81-9844-35f1-ad32-98f038001003", -1) is None
