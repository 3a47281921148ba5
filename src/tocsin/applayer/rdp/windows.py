"""Windows names the RDP client core data carries as numbers: locale ids and OS builds.

`lcid_name` maps a keyboard layout / locale id to its locale name ([MS-LCID] section 2.2,
e.g. 0x409 -> "en-US"); `build_name` maps a client build number to the Windows release,
with the service pack or feature update as a suffix ("Windows 7 SP1", "Windows 10 RS5"), the
names Suricata's `rdp` log uses. Unknown values give "unknown", as in Suricata.
"""

from __future__ import annotations

UNKNOWN = "unknown"

# [MS-LCID] language id (hex) = locale name
_LCIDS = """
1=ar 2=bg 3=ca 4=zh-Hans 5=cs 6=da 7=de 8=el 9=en a=es b=fi c=fr d=he e=hu f=is 10=it
11=ja 12=ko 13=nl 14=no 15=pl 16=pt 17=rm 18=ro 19=ru 1a=hr 1b=sk 1c=sq 1d=sv 1e=th
1f=tr 20=ur 21=id 22=uk 23=be 24=sl 25=et 26=lv 27=lt 28=tg 29=fa 2a=vi 2b=hy 2c=az
2d=eu 2e=hsb 2f=mk 30=st 31=ts 32=tn 33=ve 34=xh 35=zu 36=af 37=ka 38=fo 39=hi 3a=mt
3b=se 3c=ga 3d=yi 3e=ms 3f=kk 40=ky 41=sw 42=tk 43=uz 44=tt 45=bn 46=pa 47=gu 48=or
49=ta 4a=te 4b=kn 4c=ml 4d=as 4e=mr 4f=sa 50=mn 51=bo 52=cy 53=km 54=lo 55=my 56=gl
57=kok 58=mni 59=sd 5a=syr 5b=si 5c=chr 5d=iu 5e=am 5f=tzm 60=ks 61=ne 62=fy 63=ps
64=fil 65=dv 66=bin 67=ff 68=ha 69=ibb 6a=yo 6b=quz 6c=nso 6d=ba 6e=lb 6f=kl 70=ig 71=kr
72=om 73=ti 74=gn 75=haw 76=la 77=so 78=ii 79=pap 7a=arn 7c=moh 7e=br 80=ug 81=mi 82=oc
83=co 84=gsw 85=sah 86=qut 87=rw 88=wo 8c=prs 91=gd 92=ku 93=quc 401=ar-SA 402=bg-BG
403=ca-ES 404=zh-TW 405=cs-CZ 406=da-DK 407=de-DE 408=el-GR 409=en-US 40a=es-ES_tradnl
40b=fi-FI 40c=fr-FR 40d=he-IL 40e=hu-HU 40f=is-IS 410=it-IT 411=ja-JP 412=ko-KR
413=nl-NL 414=nb-NO 415=pl-PL 416=pt-BR 417=rm-CH 418=ro-RO 419=ru-RU 41a=hr-HR
41b=sk-SK 41c=sq-AL 41d=sv-SE 41e=th-TH 41f=tr-TR 420=ur-PK 421=id-ID 422=uk-UA
423=be-BY 424=sl-SI 425=et-EE 426=lv-LV 427=lt-LT 428=tg-Cyrl-TJ 429=fa-IR 42a=vi-VN
42b=hy-AM 42c=az-Latn-AZ 42d=eu-ES 42e=hsb-DE 42f=mk-MK 430=st-ZA 431=ts-ZA 432=tn-ZA
433=ve-ZA 434=xh-ZA 435=zu-ZA 436=af-ZA 437=ka-GE 438=fo-FO 439=hi-IN 43a=mt-MT
43b=se-NO 43d=yi-Hebr 43e=ms-MY 43f=kk-KZ 440=ky-KG 441=sw-KE 442=tk-TM 443=uz-Latn-UZ
444=tt-RU 445=bn-IN 446=pa-IN 447=gu-IN 448=or-IN 449=ta-IN 44a=te-IN 44b=kn-IN
44c=ml-IN 44d=as-IN 44e=mr-IN 44f=sa-IN 450=mn-MN 451=bo-CN 452=cy-GB 453=km-KH
454=lo-LA 455=my-MM 456=gl-ES 457=kok-IN 458=mni-IN 459=sd-Deva-IN 45a=syr-SY 45b=si-LK
45c=chr-Cher-US 45d=iu-Cans-CA 45e=am-ET 45f=tzm-Arab-MA 460=ks-Arab 461=ne-NP 462=fy-NL
463=ps-AF 464=fil-PH 465=dv-MV 466=bin-NG 467=fuv-NG 468=ha-Latn-NG 469=ibb-NG 46a=yo-NG
46b=quz-BO 46c=nso-ZA 46d=ba-RU 46e=lb-LU 46f=kl-GL 470=ig-NG 471=kr-NG 472=om-ET
473=ti-ET 474=gn-PY 475=haw-US 476=la-Latn 477=so-SO 478=ii-CN 479=pap-029 47a=arn-CL
47c=moh-CA 47e=br-FR 480=ug-CN 481=mi-NZ 482=oc-FR 483=co-FR 484=gsw-FR 485=sah-RU
486=qut-GT 487=rw-RW 488=wo-SN 48c=prs-AF 48d=plt-MG 48e=zh-yue-HK 48f=tdd-Tale-CN
490=khb-Talu-CN 491=gd-GB 492=ku-Arab-IQ 493=quc-CO 501=qps-ploc 5fe=qps-ploca 801=ar-IQ
803=ca-ES-valencia 804=zh-CN 807=de-CH 809=en-GB 80a=es-MX 80c=fr-BE 810=it-CH
811=ja-Ploc-JP 813=nl-BE 814=nn-NO 816=pt-PT 818=ro-MD 819=ru-MD 81a=sr-Latn-CS
81d=sv-FI 820=ur-IN 82c=az-Cyrl-AZ 82e=dsb-DE 832=tn-BW 83b=se-SE 83c=ga-IE 83e=ms-BN
843=uz-Cyrl-UZ 845=bn-BD 846=pa-Arab-PK 849=ta-LK 850=mn-Mong-CN 851=bo-BT
859=sd-Arab-PK 85d=iu-Latn-CA 85f=tzm-Latn-DZ 860=ks-Deva 861=ne-IN 867=ff-Latn-SN
86b=quz-EC 873=ti-ER 9ff=qps-plocm c01=ar-EG c04=zh-HK c07=de-AT c09=en-AU c0a=es-ES
c0c=fr-CA c1a=sr-Cyrl-CS c3b=se-FI c50=mn-Mong-MN c51=dz-BT c5f=tmz-MA c6b=quz-PE
1001=ar-LY 1004=zh-SG 1007=de-LU 1009=en-CA 100a=es-GT 100c=fr-CH 101a=hr-BA 103b=smj-NO
105f=tzm-Tfng-MA 1401=ar-DZ 1404=zh-MO 1407=de-LI 1409=en-NZ 140a=es-CR 140c=fr-LU
141a=bs-Latn-BA 143b=smj-SE 1801=ar-MA 1809=en-IE 180a=es-PA 180c=fr-MC 181a=sr-Latn-BA
183b=sma-NO 1c01=ar-TN 1c09=en-ZA 1c0a=es-DO 1c1a=sr-Cyrl-BA 1c3b=sma-SE 2001=ar-OM
2009=en-JM 200a=es-VE 200c=fr-RE 201a=bs-Cyrl-BA 203b=sms-FI 2401=ar-YE 2409=en-029
240a=es-CO 240c=fr-CD 241a=sr-Latn-RS 243b=smn-FI 2801=ar-SY 2809=en-BZ 280a=es-PE
280c=fr-SN 281a=sr-Cyrl-RS 2c01=ar-JO 2c09=en-TT 2c0a=es-AR 2c0c=fr-CM 2c1a=sr-Latn-ME
3001=ar-LB 3009=en-ZW 300a=es-EC 300c=fr-CI 301a=sr-Cyrl-ME 3401=ar-KW 3409=en-PH
340a=es-CL 340c=fr-ML 3801=ar-AE 3809=en-ID 380a=es-UY 380c=fr-MA 3c01=ar-BH 3c09=en-HK
3c0a=es-PY 3c0c=fr-HT 4001=ar-QA 4009=en-IN 400a=es-BO 4401=ar-Ploc-SA 4409=en-MY
440a=es-SV 4801=ar-145 4809=en-SG 480a=es-HN 4c09=en-AE 4c0a=es-NI 5009=en-BH 500a=es-PR
5409=en-EG 540a=es-US 5809=en-JO 580a=es-419 5c09=en-KW 5c0a=es-CU 6009=en-TR 6409=en-YE
641a=bs-Cyrl 681a=bs-Latn 6c1a=sr-Cyrl 701a=sr-Latn 703b=smn 742c=az-Cyrl 743b=sms
7804=zh 7814=nn 781a=bs 782c=az-Latn 783b=sma 7843=uz-Cyrl 7850=mn-Cyrl 785d=iu-Cans
785f=tzm-Tfng 7c04=zh-Hant 7c14=nb 7c1a=sr 7c28=tg-Cyrl 7c2e=dsb 7c3b=smj 7c43=uz-Latn
7c46=pa-Arab 7c50=mn-Mong 7c59=sd-Arab 7c5c=chr-Cher 7c5d=iu-Latn 7c5f=tzm-Latn
7c67=ff-Latn 7c68=ha-Latn 7c92=ku-Arab
"""

LCID_NAMES: dict[int, str] = {
    int(key, 16): name for key, name in (item.split("=") for item in _LCIDS.split())
}

# build number: (release, suffix); Windows NT releases (builds before 10240), then the
# Windows 10 and 11 feature updates
BUILDS: dict[int, tuple[str, str]] = {
    528: ("Windows NT 3.1", ""),
    807: ("Windows NT 3.5", ""),
    1057: ("Windows NT 3.51", ""),
    1381: ("Windows NT 4.0", ""),
    2195: ("Windows 2000", ""),
    2600: ("Windows XP", ""),
    3790: ("Windows Server 2003", ""),
    6000: ("Windows Vista", "RTM"),
    6001: ("Windows Vista", "SP1"),
    6002: ("Windows Vista", "SP2"),
    7600: ("Windows 7", "RTM"),
    7601: ("Windows 7", "SP1"),
    9200: ("Windows 8", ""),
    9600: ("Windows 8.1", ""),
    10240: ("Windows 10", "TH1"),
    10586: ("Windows 10", "TH2"),
    14393: ("Windows 10", "RS1"),
    15063: ("Windows 10", "RS2"),
    16299: ("Windows 10", "RS3"),
    17134: ("Windows 10", "RS4"),
    17763: ("Windows 10", "RS5"),
    18362: ("Windows 10", "19H1"),
    18363: ("Windows 10", "19H2"),
    19041: ("Windows 10", "20H1"),
    19042: ("Windows 10", "20H2"),
    19043: ("Windows 10", "21H1"),
    19044: ("Windows 10", "21H2"),
    19045: ("Windows 10", "22H2"),
    22000: ("Windows 11", "21H2"),
    22621: ("Windows 11", "22H2"),
    22631: ("Windows 11", "23H2"),
    26100: ("Windows 11", "24H2"),
}


def lcid_name(lcid: int) -> str:
    return LCID_NAMES.get(lcid, UNKNOWN)


def build_name(build: int) -> str:
    known = BUILDS.get(build)
    if known is None:
        return UNKNOWN
    release, suffix = known
    return f"{release} {suffix}" if suffix else release
