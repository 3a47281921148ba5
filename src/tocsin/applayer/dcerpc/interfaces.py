"""DCERPC interface UUID -> service name, and opnum -> operation name, for the interfaces that
matter for attacks on Windows networks (lateral movement, credential theft, coercion).

Names follow the Microsoft Open Specifications (MS-SCMR, MS-SAMR, MS-DRSR, MS-NRPC...) in the
form Zeek's `dce_rpc.log` and Suricata (>= 9) use: no `R` prefix for svcctl (`CreateServiceW`),
no `IDL_` prefix for drsuapi (`DRSGetNCChanges`). The table is written for Tocsin from the
specifications; `-` marks opnums that are not used on the wire. Detectors read `service` and
`procedure` from the `dcerpc` / `smb` events; `service_name` and `procedure_name` are the lookups.

What detectors usually look for: svcctl CreateServiceW / CreateServiceWOW64W / StartServiceW
(PsExec, smbexec), drsuapi DRSGetNCChanges / DRSReplicaSync (DCSync), atsvc NetrJobAdd and
ITaskSchedulerService SchRpcRegisterTask (remote tasks), samr / lsarpc enumeration, netlogon
NetrServerAuthenticate3 + NetrServerPasswordSet2 (Zerologon), efsrpc EfsRpcOpenFileRaw and
spoolss RpcRemoteFindFirstPrinterChangeNotificationEx (coercion), spoolss RpcAddPrinterDriverEx
(PrintNightmare), backupkey BackuprKey (DPAPI domain key), eventlog ElfrClearELFW, IWbemServices
ExecMethod (WMI execution), IRemoteSCMActivator RemoteCreateInstance (DCOM).
"""

from __future__ import annotations


def _ops(names: str) -> tuple[str, ...]:
    return tuple(names.split())


_DCOM = "- - - "  # opnums 0-2 of a DCOM interface are IUnknown's, never sent on the wire

_EFSR = _ops(
    "EfsRpcOpenFileRaw EfsRpcReadFileRaw EfsRpcWriteFileRaw EfsRpcCloseRaw "
    "EfsRpcEncryptFileSrv EfsRpcDecryptFileSrv EfsRpcQueryUsersOnFile "
    "EfsRpcQueryRecoveryAgents EfsRpcRemoveUsersFromFile EfsRpcAddUsersToFile - "
    "EfsRpcNotSupported EfsRpcFileKeyInfo EfsRpcDuplicateEncryptionInfoFile - "
    "EfsRpcAddUsersToFileEx EfsRpcFileKeyInfoEx - EfsRpcGetEncryptedFileMetadata "
    "EfsRpcSetEncryptedFileMetadata EfsRpcFlushEfsCache EfsRpcEncryptFileExSrv "
    "EfsRpcQueryProtectors"
)
# MS-PAR: only the two operations of interest are named
_PAR = ("RpcAsyncOpenPrinter", *("-",) * 38, "RpcAsyncAddPrinterDriver")

INTERFACES: dict[str, tuple[str, tuple[str, ...]]] = {
    "e1af8308-5d1f-11c9-91a4-08002b14a0fa": (
        "epmapper",
        _ops(
            "ept_insert ept_delete ept_lookup ept_map ept_lookup_handle_free ept_inq_object "
            "ept_mgmt_delete"
        ),
    ),
    "afa8bd80-7d8a-11c9-bef4-08002b102989": (
        "mgmt",
        _ops("inq_if_ids inq_stats is_server_listening stop_server_listening inq_princ_name"),
    ),
    "367abb81-9844-35f1-ad32-98f038001003": (
        "svcctl",
        _ops(
            "CloseServiceHandle ControlService DeleteService LockServiceDatabase "
            "QueryServiceObjectSecurity SetServiceObjectSecurity QueryServiceStatus "
            "SetServiceStatus UnlockServiceDatabase NotifyBootConfigStatus - "
            "ChangeServiceConfigW CreateServiceW EnumDependentServicesW EnumServicesStatusW "
            "OpenSCManagerW OpenServiceW QueryServiceConfigW QueryServiceLockStatusW "
            "StartServiceW GetServiceDisplayNameW GetServiceKeyNameW - ChangeServiceConfigA "
            "CreateServiceA EnumDependentServicesA EnumServicesStatusA OpenSCManagerA "
            "OpenServiceA QueryServiceConfigA QueryServiceLockStatusA StartServiceA "
            "GetServiceDisplayNameA GetServiceKeyNameA - EnumServiceGroupW "
            "ChangeServiceConfig2A ChangeServiceConfig2W QueryServiceConfig2A "
            "QueryServiceConfig2W QueryServiceStatusEx EnumServicesStatusExA "
            "EnumServicesStatusExW - CreateServiceWOW64A CreateServiceWOW64W - "
            "NotifyServiceStatusChange GetNotifyResults CloseNotifyHandle ControlServiceExA "
            "ControlServiceExW - - - - QueryServiceConfigEx"
        ),
    ),
    "12345778-1234-abcd-ef00-0123456789ac": (
        "samr",
        _ops(
            "SamrConnect SamrCloseHandle SamrSetSecurityObject SamrQuerySecurityObject - "
            "SamrLookupDomainInSamServer SamrEnumerateDomainsInSamServer SamrOpenDomain "
            "SamrQueryInformationDomain SamrSetInformationDomain SamrCreateGroupInDomain "
            "SamrEnumerateGroupsInDomain SamrCreateUserInDomain SamrEnumerateUsersInDomain "
            "SamrCreateAliasInDomain SamrEnumerateAliasesInDomain SamrGetAliasMembership "
            "SamrLookupNamesInDomain SamrLookupIdsInDomain SamrOpenGroup "
            "SamrQueryInformationGroup SamrSetInformationGroup SamrAddMemberToGroup "
            "SamrDeleteGroup SamrRemoveMemberFromGroup SamrGetMembersInGroup "
            "SamrSetMemberAttributesOfGroup SamrOpenAlias SamrQueryInformationAlias "
            "SamrSetInformationAlias SamrDeleteAlias SamrAddMemberToAlias "
            "SamrRemoveMemberFromAlias SamrGetMembersInAlias SamrOpenUser SamrDeleteUser "
            "SamrQueryInformationUser SamrSetInformationUser SamrChangePasswordUser "
            "SamrGetGroupsForUser SamrQueryDisplayInformation SamrGetDisplayEnumerationIndex "
            "- - SamrGetUserDomainPasswordInformation SamrRemoveMemberFromForeignDomain "
            "SamrQueryInformationDomain2 SamrQueryInformationUser2 "
            "SamrQueryDisplayInformation2 SamrGetDisplayEnumerationIndex2 "
            "SamrCreateUser2InDomain SamrQueryDisplayInformation3 "
            "SamrAddMultipleMembersToAlias SamrRemoveMultipleMembersFromAlias "
            "SamrOemChangePasswordUser2 SamrUnicodeChangePasswordUser2 "
            "SamrGetDomainPasswordInformation SamrConnect2 SamrSetInformationUser2 - - - "
            "SamrConnect4 - SamrConnect5 SamrRidToSid SamrSetDSRMPassword SamrValidatePassword"
        ),
    ),
    "12345778-1234-abcd-ef00-0123456789ab": (
        "lsarpc",
        _ops(
            "LsarClose - LsarEnumeratePrivileges LsarQuerySecurityObject "
            "LsarSetSecurityObject - LsarOpenPolicy LsarQueryInformationPolicy "
            "LsarSetInformationPolicy - LsarCreateAccount LsarEnumerateAccounts "
            "LsarCreateTrustedDomain LsarEnumerateTrustedDomains LsarLookupNames "
            "LsarLookupSids LsarCreateSecret LsarOpenAccount LsarEnumeratePrivilegesAccount "
            "LsarAddPrivilegesToAccount LsarRemovePrivilegesFromAccount - - "
            "LsarGetSystemAccessAccount LsarSetSystemAccessAccount LsarOpenTrustedDomain "
            "LsarQueryInfoTrustedDomain LsarSetInformationTrustedDomain LsarOpenSecret "
            "LsarSetSecret LsarQuerySecret LsarLookupPrivilegeValue LsarLookupPrivilegeName "
            "LsarLookupPrivilegeDisplayName LsarDeleteObject "
            "LsarEnumerateAccountsWithUserRight LsarEnumerateAccountRights "
            "LsarAddAccountRights LsarRemoveAccountRights LsarQueryTrustedDomainInfo "
            "LsarSetTrustedDomainInfo LsarDeleteTrustedDomain LsarStorePrivateData "
            "LsarRetrievePrivateData LsarOpenPolicy2 LsarGetUserName "
            "LsarQueryInformationPolicy2 LsarSetInformationPolicy2 "
            "LsarQueryTrustedDomainInfoByName LsarSetTrustedDomainInfoByName "
            "LsarEnumerateTrustedDomainsEx LsarCreateTrustedDomainEx LsarCloseTrustedDomainEx "
            "LsarQueryDomainInformationPolicy LsarSetDomainInformationPolicy "
            "LsarOpenTrustedDomainByName - LsarLookupSids2 LsarLookupNames2 "
            "LsarCreateTrustedDomainEx2 - - - - - - - - LsarLookupNames3 - - - - "
            "LsarQueryForestTrustInformation LsarSetForestTrustInformation - "
            "LsarLookupSids3 LsarLookupNames4"
        ),
    ),
    "e3514235-4b06-11d1-ab04-00c04fc2dcd2": (
        "drsuapi",
        _ops(
            "DRSBind DRSUnbind DRSReplicaSync DRSGetNCChanges DRSUpdateRefs DRSReplicaAdd "
            "DRSReplicaDel DRSReplicaModify DRSVerifyNames DRSGetMemberships "
            "DRSInterDomainMove DRSGetNT4ChangeLog DRSCrackNames DRSWriteSPN "
            "DRSRemoveDsServer DRSRemoveDsDomain DRSDomainControllerInfo DRSAddEntry "
            "DRSExecuteKCC DRSGetReplInfo DRSAddSidHistory DRSGetMemberships2 "
            "DRSReplicaVerifyObjects DRSGetObjectExistence DRSQuerySitesByCost "
            "DRSInitDemotion DRSReplicaDemotion DRSFinishDemotion DRSAddCloneDC "
            "DRSWriteNgcKey DRSReadNgcKey"
        ),
    ),
    "12345678-1234-abcd-ef00-01234567cffb": (
        "netlogon",
        _ops(
            "NetrLogonUasLogon NetrLogonUasLogoff NetrLogonSamLogon NetrLogonSamLogoff "
            "NetrServerReqChallenge NetrServerAuthenticate NetrServerPasswordSet "
            "NetrDatabaseDeltas NetrDatabaseSync NetrAccountDeltas NetrAccountSync "
            "NetrGetDCName NetrLogonControl NetrGetAnyDCName NetrLogonControl2 "
            "NetrServerAuthenticate2 NetrDatabaseSync2 NetrDatabaseRedo NetrLogonControl2Ex "
            "NetrEnumerateTrustedDomains DsrGetDcName NetrLogonGetCapabilities "
            "NetrLogonSetServiceBits NetrLogonGetTrustRid NetrLogonComputeServerDigest "
            "NetrLogonComputeClientDigest NetrServerAuthenticate3 DsrGetDcNameEx "
            "DsrGetSiteName NetrLogonGetDomainInfo NetrServerPasswordSet2 "
            "NetrServerPasswordGet NetrLogonSendToSam DsrAddressToSiteNamesW "
            "DsrGetDcNameEx2 NetrLogonGetTimeServiceParentDomain "
            "NetrEnumerateTrustedDomainsEx DsrAddressToSiteNamesExW DsrGetDcSiteCoverageW "
            "NetrLogonSamLogonEx DsrEnumerateDomainTrusts DsrDeregisterDnsHostRecords "
            "NetrServerTrustPasswordsGet DsrGetForestTrustInformation "
            "NetrGetForestTrustInformation NetrLogonSamLogonWithFlags NetrServerGetTrustInfo "
            "- DsrUpdateReadOnlyServerDnsRecords NetrChainSetClientAttributes"
        ),
    ),
    "4b324fc8-1670-01d3-1278-5a47bf6ee188": (
        "srvsvc",
        _ops(
            "- - - - - - - - NetrConnectionEnum NetrFileEnum NetrFileGetInfo NetrFileClose "
            "NetrSessionEnum NetrSessionDel NetrShareAdd NetrShareEnum NetrShareGetInfo "
            "NetrShareSetInfo NetrShareDel NetrShareDelSticky NetrShareCheck "
            "NetrServerGetInfo NetrServerSetInfo NetrServerDiskEnum NetrServerStatisticsGet "
            "NetrServerTransportAdd NetrServerTransportEnum NetrServerTransportDel "
            "NetrRemoteTOD - NetprPathType NetprPathCanonicalize NetprPathCompare "
            "NetprNameValidate NetprNameCanonicalize NetprNameCompare NetrShareEnumSticky "
            "NetrShareDelStart NetrShareDelCommit NetrpGetFileSecurity NetrpSetFileSecurity "
            "NetrServerTransportAddEx - NetrDfsGetVersion NetrDfsCreateLocalPartition "
            "NetrDfsDeleteLocalPartition NetrDfsSetLocalVolumeState - "
            "NetrDfsCreateExitPoint NetrDfsDeleteExitPoint NetrDfsModifyPrefix "
            "NetrDfsFixLocalVolume NetrDfsManagerReportSiteInfo NetrServerTransportDelEx "
            "NetrServerAliasAdd NetrServerAliasEnum NetrServerAliasDel NetrShareDelEx"
        ),
    ),
    "6bffd098-a112-3610-9833-46c3f87e345a": (
        "wkssvc",
        _ops(
            "NetrWkstaGetInfo NetrWkstaSetInfo NetrWkstaUserEnum - - NetrWkstaTransportEnum "
            "NetrWkstaTransportAdd NetrWkstaTransportDel NetrUseAdd NetrUseGetInfo "
            "NetrUseDel NetrUseEnum - NetrWorkstationStatisticsGet - - - - - - "
            "NetrGetJoinInformation - NetrJoinDomain2 NetrUnjoinDomain2 "
            "NetrRenameMachineInDomain2 NetrValidateName2 NetrGetJoinableOUs2 "
            "NetrAddAlternateComputerName NetrRemoveAlternateComputerName "
            "NetrSetPrimaryComputerName NetrEnumerateComputerNames"
        ),
    ),
    "338cd001-2244-31f1-aaaa-900038001003": (
        "winreg",
        _ops(
            "OpenClassesRoot OpenCurrentUser OpenLocalMachine OpenPerformanceData OpenUsers "
            "BaseRegCloseKey BaseRegCreateKey BaseRegDeleteKey BaseRegDeleteValue "
            "BaseRegEnumKey BaseRegEnumValue BaseRegFlushKey BaseRegGetKeySecurity "
            "BaseRegLoadKey - BaseRegOpenKey BaseRegQueryInfoKey BaseRegQueryValue "
            "BaseRegReplaceKey BaseRegRestoreKey BaseRegSaveKey BaseRegSetKeySecurity "
            "BaseRegSetValue BaseRegUnLoadKey BaseInitiateSystemShutdown "
            "BaseAbortSystemShutdown BaseRegGetVersion OpenCurrentConfig - "
            "BaseRegQueryMultipleValues BaseInitiateSystemShutdownEx BaseRegSaveKeyEx "
            "OpenPerformanceText OpenPerformanceNlsText BaseRegQueryMultipleValues2 "
            "BaseRegDeleteKeyEx"
        ),
    ),
    "1ff70682-0a51-30e8-076d-740be8cee98b": (
        "atsvc",
        _ops("NetrJobAdd NetrJobDel NetrJobEnum NetrJobGetInfo"),
    ),
    "378e52b0-c0a9-11cf-822d-00aa0051e40f": (
        "sasec",
        _ops(
            "SASetAccountInformation SASetNSAccountInformation SAGetNSAccountInformation "
            "SAGetAccountInformation"
        ),
    ),
    "86d35949-83c9-4044-b424-db363231fd0c": (
        "ITaskSchedulerService",
        _ops(
            "SchRpcHighestVersion SchRpcRegisterTask SchRpcRetrieveTask SchRpcCreateFolder "
            "SchRpcSetSecurity SchRpcGetSecurity SchRpcEnumFolders SchRpcEnumTasks "
            "SchRpcEnumInstances SchRpcGetInstanceInfo SchRpcStopInstance SchRpcStop "
            "SchRpcRun SchRpcDelete SchRpcRename SchRpcScheduledRuntimes "
            "SchRpcGetLastRunInfo SchRpcGetTaskInfo SchRpcGetNumberOfMissedRuns "
            "SchRpcEnableTask"
        ),
    ),
    "12345678-1234-abcd-ef00-0123456789ab": (
        "spoolss",
        _ops(
            "RpcEnumPrinters RpcOpenPrinter RpcSetJob RpcGetJob RpcEnumJobs RpcAddPrinter "
            "RpcDeletePrinter RpcSetPrinter RpcGetPrinter RpcAddPrinterDriver "
            "RpcEnumPrinterDrivers RpcGetPrinterDriver RpcGetPrinterDriverDirectory "
            "RpcDeletePrinterDriver RpcAddPrintProcessor RpcEnumPrintProcessors "
            "RpcGetPrintProcessorDirectory RpcStartDocPrinter RpcStartPagePrinter "
            "RpcWritePrinter RpcEndPagePrinter RpcAbortPrinter RpcReadPrinter "
            "RpcEndDocPrinter RpcAddJob RpcScheduleJob RpcGetPrinterData RpcSetPrinterData "
            "RpcWaitForPrinterChange RpcClosePrinter RpcAddForm RpcDeleteForm RpcGetForm "
            "RpcSetForm RpcEnumForms RpcEnumPorts RpcEnumMonitors - - RpcDeletePort "
            "RpcCreatePrinterIC RpcPlayGdiScriptOnPrinterIC RpcDeletePrinterIC - - - "
            "RpcAddMonitor RpcDeleteMonitor RpcDeletePrintProcessor - - "
            "RpcEnumPrintProcDatatypes RpcResetPrinter RpcGetPrinterDriver2 - - "
            "RpcFindClosePrinterChangeNotification - RpcReplyOpenPrinter "
            "RpcRouterReplyPrinter RpcReplyClosePrinter RpcAddPortEx "
            "RpcRemoteFindFirstPrinterChangeNotification - - "
            "RpcRemoteFindFirstPrinterChangeNotificationEx RpcRouterReplyPrinterEx "
            "RpcRouterRefreshPrinterChangeNotification - RpcOpenPrinterEx RpcAddPrinterEx "
            "RpcSetPort RpcEnumPrinterData RpcDeletePrinterData - - - RpcSetPrinterDataEx "
            "RpcGetPrinterDataEx RpcEnumPrinterDataEx RpcEnumPrinterKey "
            "RpcDeletePrinterDataEx RpcDeletePrinterKey - RpcDeletePrinterDriverEx "
            "RpcAddPerMachineConnection RpcDeletePerMachineConnection "
            "RpcEnumPerMachineConnections RpcXcvData RpcAddPrinterDriverEx"
        ),
    ),
    "c681d488-d850-11d0-8c52-00c04fd90f7e": ("efsrpc", _EFSR),  # over \pipe\lsarpc
    "df1941c5-fe89-4e79-bf10-463657acf44d": ("efsrpc", _EFSR),  # over \pipe\efsrpc
    "3dde7c30-165d-11d1-ab8f-00805f14db40": ("backupkey", _ops("BackuprKey")),
    "3919286a-b10c-11d0-9ba8-00c04fd92ef5": (
        "dssetup",
        _ops(
            "DsRolerGetPrimaryDomainInformation DsRolerDnsNameToFlatName DsRolerDcAsDc "
            "DsRolerDcAsReplica DsRolerDemoteDc DsRolerGetDcOperationProgress "
            "DsRolerGetDcOperationResults DsRolerCancel DsRolerServerSaveStateForUpgrade "
            "DsRolerUpgradeDownlevelServer DsRolerAbortDownlevelServerUpgrade"
        ),
    ),
    "82273fdc-e32a-18c3-3f78-827929dc23ea": (
        "eventlog",
        _ops(
            "ElfrClearELFW ElfrBackupELFW ElfrCloseEL ElfrDeregisterEventSource "
            "ElfrNumberOfRecords ElfrOldestRecord ElfrChangeNotify ElfrOpenELW "
            "ElfrRegisterEventSourceW ElfrOpenBELW ElfrReadELW ElfrReportEventW "
            "ElfrClearELFA ElfrBackupELFA ElfrOpenELA ElfrRegisterEventSourceA ElfrOpenBELA "
            "ElfrReadELA ElfrReportEventA - - - ElfrGetLogInformation - "
            "ElfrReportEventAndSourceW ElfrReportEventExW ElfrReportEventExA"
        ),
    ),
    "f6beaff7-1e19-4fbb-9f8f-b89e2018337c": (
        "IEventService",
        _ops(
            "EvtRpcRegisterRemoteSubscription EvtRpcRemoteSubscriptionNextAsync "
            "EvtRpcRemoteSubscriptionNext EvtRpcRemoteSubscriptionWaitAsync "
            "EvtRpcRegisterControllableOperation EvtRpcRegisterLogQuery EvtRpcClearLog "
            "EvtRpcExportLog EvtRpcLocalizeExportLog EvtRpcMessageRender "
            "EvtRpcMessageRenderDefault EvtRpcQueryNext EvtRpcQuerySeek EvtRpcClose "
            "EvtRpcCancel EvtRpcAssertConfig EvtRpcRetractConfig EvtRpcOpenLogHandle "
            "EvtRpcGetLogFileInfo EvtRpcGetChannelList EvtRpcGetChannelConfig "
            "EvtRpcPutChannelConfig EvtRpcGetPublisherList EvtRpcGetPublisherListForChannel "
            "EvtRpcGetPublisherMetadata EvtRpcGetPublisherResourceMetadata "
            "EvtRpcGetEventMetadataEnum EvtRpcGetNextEventMetadata "
            "EvtRpcGetClassicLogDisplayName"
        ),
    ),
    "4fc742e0-4a10-11cf-8273-00aa004ae673": (
        "netdfs",
        _ops(
            "NetrDfsManagerGetVersion NetrDfsAdd NetrDfsRemove NetrDfsSetInfo NetrDfsGetInfo "
            "NetrDfsEnum NetrDfsMove NetrDfsRename NetrDfsManagerGetConfigInfo "
            "NetrDfsManagerSendSiteInfo NetrDfsAddFtRoot NetrDfsRemoveFtRoot "
            "NetrDfsAddStdRoot NetrDfsRemoveStdRoot NetrDfsManagerInitialize "
            "NetrDfsAddStdRootForced NetrDfsGetDcAddress NetrDfsSetDcAddress "
            "NetrDfsFlushFtTable NetrDfsAdd2 NetrDfsRemove2 NetrDfsEnumEx NetrDfsSetInfo2 "
            "NetrDfsAddRootTarget NetrDfsRemoveRootTarget "
            "NetrDfsGetSupportedNamespaceVersion"
        ),
    ),
    "a8e0653c-2744-4389-a61d-7373df8b2292": (
        "FileServerVssAgent",
        _ops(
            "GetSupportedVersion SetContext StartShadowCopySet AddToShadowCopySet "
            "CommitShadowCopySet ExposeShadowCopySet RecoveryCompleteShadowCopySet "
            "AbortShadowCopySet IsPathSupported IsPathShadowCopied GetShareMapping "
            "DeleteShareMapping PrepareShadowCopySet"
        ),
    ),
    "894de0c0-0d55-11d3-a322-00c04fa321a1": (
        "InitShutdown",
        _ops("BaseInitiateShutdown BaseAbortShutdown BaseInitiateShutdownEx"),
    ),
    "91ae6020-9e3c-11cf-8d7c-00aa00c091be": ("ICertPassage", _ops("CertServerRequest")),
    "d99e6e70-fc88-11d0-b498-00a0c90312f3": (
        "ICertRequestD",
        _ops(_DCOM + "Request GetCACert Ping"),
    ),
    "5422fd3a-d4b8-4cef-a12e-e87d4ca22e90": (
        "ICertRequestD2",
        _ops(_DCOM + "Request GetCACert Ping Request2 GetCAProperty GetCAPropertyInfo Ping2"),
    ),
    "000001a0-0000-0000-c000-000000000046": (
        "IRemoteSCMActivator",
        _ops(_DCOM + "RemoteGetClassObject RemoteCreateInstance"),
    ),
    "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57": ("IActivation", _ops("RemoteActivation")),
    "99fcfec4-5260-101b-bbcb-00aa0021347a": (
        "IObjectExporter",
        _ops("ResolveOxid SimplePing ComplexPing ServerAlive ResolveOxid2 ServerAlive2"),
    ),
    "00000131-0000-0000-c000-000000000046": (
        "IRemUnknown",
        _ops(_DCOM + "RemQueryInterface RemAddRef RemRelease"),
    ),
    "00000143-0000-0000-c000-000000000046": (
        "IRemUnknown2",
        _ops(_DCOM + "RemQueryInterface RemAddRef RemRelease RemQueryInterface2"),
    ),
    "00020400-0000-0000-c000-000000000046": (
        "IDispatch",
        _ops(_DCOM + "GetTypeInfoCount GetTypeInfo GetIDsOfNames Invoke"),
    ),
    "f309ad18-d86a-11d0-a075-00c04fb68820": (
        "IWbemLevel1Login",
        _ops(_DCOM + "EstablishPosition RequestChallenge WBEMLogin NTLMLogin"),
    ),
    "d4781cd6-e5d3-44df-ad94-930efe48a887": ("IWbemLoginClientID", _ops(_DCOM + "SetClientInfo")),
    "9556dc99-828c-11cf-a37e-00aa003240c7": (
        "IWbemServices",
        _ops(
            _DCOM + "OpenNamespace CancelAsyncCall QueryObjectSink GetObject GetObjectAsync "
            "PutClass PutClassAsync DeleteClass DeleteClassAsync CreateClassEnum "
            "CreateClassEnumAsync PutInstance PutInstanceAsync DeleteInstance "
            "DeleteInstanceAsync CreateInstanceEnum CreateInstanceEnumAsync ExecQuery "
            "ExecQueryAsync ExecNotificationQuery ExecNotificationQueryAsync ExecMethod "
            "ExecMethodAsync"
        ),
    ),
    "76f03f96-cdfd-44fc-a22c-64950a001209": ("IRemoteWinspool", _PAR),
}


def service_name(uuid: str) -> str | None:
    """The service of an interface UUID (lower-case text form), None when not in the table."""
    entry = INTERFACES.get(uuid)
    return entry[0] if entry else None


def procedure_name(uuid: str, opnum: int) -> str | None:
    """The operation `opnum` of interface `uuid`, None when unknown or not used on the wire."""
    entry = INTERFACES.get(uuid)
    if entry is None or not 0 <= opnum < len(entry[1]):
        return None
    name = entry[1][opnum]
    return None if name == "-" else name
