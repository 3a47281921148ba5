"""File extensions that ransomware gives encrypted files, and names of its ransom notes.

Written for Tocsin from public collections (names only, lower-cased), cross-checked against:
Splunk security_content lookups `ransomware_extensions_lookup` and `ransomware_notes_lookup`
(Apache-2.0), the CAPE/Cuckoo community signatures `ransomware_extensions` and
`ransomware_files` (Kevin Ross, KillerInstinct, GPL-3.0: list of names consulted, not code),
and vendor write-ups (LockBit, Conti, Ryuk, Hive, BlackCat, Phobos, Dharma, STOP/Djvu...).
Extensions shared with legitimate software (`.enc`, `.bak`, `.lock`, `.java`...) are left out.
"""

from __future__ import annotations


def _names(text: str, *more: str) -> frozenset[str]:
    """The whitespace-separated names of `text`, plus `more` (names with a space)."""
    return frozenset((*text.split(), *more))


# ~120 extensions, with the dot; names that are also common file types (.java, .inc,
# .xyz, .abc, .play...) are left out even where a family used them
RANSOM_EXTENSIONS = _names(
    """
    .8base .aesir .akira .akiranew .alphv .avaddon .babyk .badrabbit .basta .bianlian
    .bitpaymer .blackbyte .blackcat .blacksuit .boty .btcware .c0rona .cerber .cerber2
    .cerber3 .cezar .cl0p .clop .coharos .conti  .coot .crinf .crjoker .cryp1
    .crypt .crypted .crypted000007 .cryptolocker .cryptowall .crypz .darkside .devos
    .dharma .diablo6 .djvu .djvuq .djvur .djvuu .doppelpaymer .egregor .eking .elbie
    .enc_robbinhood .encrypt .encrypted .encrypted_files .fucked .gandcrab
    .globeimposter .harma .hellokitty .hive .hydracrypt  .key.hive .kodg .krab
    .kuub .lockbit .lockbit2 .lockbit3  .locked .lockergoga .lockfile .locky
     .lokf .lukitus .makop .mallox .maze .medusa .megacortex .mespinoza .mlza
    .mmnn .mountlocker .nefilim .nephilim .netwalker .nochance .noescape .nooa .nood
    .notpetya .onion .osiris .paradise .pay2key .paym .payransom .pdff .petya .phobos
     .pysa .qilin .qqqw .ragnar .ragnarok .ransomwared .revil .rhysida .rigd
    .royal_w .ryk .ryuk  .samsam .sekhmet .sodinokibi .spora .teslacrypt .tfude
    .toxcrypt .trigona .udjvu .uudjvu .vusm .wannacry .wcry .weapologize .wncry .wncryt
    .wnry .zeppelin .zepto .zzla
    """
)

# ransom notes whose name alone is telling (lower-case, exact basename)
RANSOM_NOTES = _names(
    """
    how_to_decrypt.txt how_to_decrypt.html how_to_decrypt_files.txt how_to_decrypt_files.html
    how-to-decrypt.txt how_decrypt.txt how_to_restore_files.txt how_to_restore_files.html
    how_to_recover_files.txt how_to_back_files.html how_recover_files.txt
    help_decrypt.txt help_decrypt.html help_restore_files.txt help_your_files.txt
    help_your_files.html help_to_decrypt.txt help_recover_instructions.txt
    decrypt_instructions.txt decrypt_instructions.html decrypt_instruction.txt
    decryption_instructions.txt decrypt-files.txt decrypt_readme.txt decrypt_info.txt
    restore-my-files.txt restore_my_files.txt restore_files.txt restore_files_info.txt
    readme_for_decrypt.txt readme-warning.txt readme_to_restore_files.txt
    read_me_to_decrypt.txt !!!read_me!!!.txt !!!_read_me_!!!.txt !_read_me_!.txt
    !!!readme!!!.txt !readme!.txt _readme_.txt _readme.txt !!_read_me_!!.txt
    read_it.txt readme.hta #decrypt_my_files#.txt #decrypt_my_files#.html
    _help_instructions.html _help_instructions.txt @please_read_me@.txt
    @please_read_me_wannacry@.txt @wanadecryptor@.exe @wanadecryptor@.bmp
    ryukreadme.txt ryukreadme.html conti_readme.txt readme.conti.txt
    how_to_decrypt_my_files.txt decrypt-files.html recovery_key.txt
    !!!_important_read_me_!!!.txt !!!_how_to_decrypt_!!!.txt
    files_encrypted.txt your_files_are_encrypted.txt
    your_files_are_encrypted.html your_files.txt info.hta info.txt.hta
    cyborg_decrypt.txt hive_decrypt.txt how_to_buy_decryptor.txt how_to_buy_decryptor.html
    how_to_recover_data.html how_to_recover_data.txt recover-files.txt
    restore-files.txt restore_data.txt read_to_decrypt.html readme_lock.txt
    unlock_files_instructions.txt unlock_instructions.txt unlock_my_files.txt
    """,
    "files encrypted.txt",
)

# fragments of note names that vary per victim ("xxxx-README.txt", "RECOVER-ab12cd-FILES.txt")
RANSOM_NOTE_FRAGMENTS = (
    "how_to_decrypt",
    "how-to-decrypt",
    "howtodecrypt",
    "restore-my-files",
    "restore_my_files",
    "decrypt_instructions",
    "decrypt-instructions",
    "readme_to_decrypt",
    "recover-files",
    "read_me_to_decrypt",
    "your_files_are_encrypted",
)

# note names ordinary software also uses: they count only when written in several folders
GENERIC_NOTES = _names(
    """
    readme.txt read_me.txt read-me.txt readme.html readme.hta instructions.txt
    info.txt info.hta help.txt help.html restore.txt recover.txt decrypt.txt
    """,
    "read me.txt",
)


def note_kind(basename: str) -> str | None:
    """ "specific" for a telling ransom note name, "generic" for README.txt and the like,
    None otherwise (`basename` without folders)."""
    b = basename.lower()
    if b in RANSOM_NOTES or any(f in b for f in RANSOM_NOTE_FRAGMENTS):
        return "specific"
    if b.endswith(("_readme.txt", "-readme.txt", ".readme.txt")) and len(b) > 11:
        return "specific"  # "<random id>_readme.txt" (STOP/Djvu, Sodinokibi)
    if b in GENERIC_NOTES:
        return "generic"
    return None


def ransom_extension(basename: str) -> str | None:
    """The known ransomware extension `basename` ends with, or None. Also catches Dharma /
    Phobos style `report.docx.id[1E857D00-2275].[decrypt@mail.tld].eking`, whatever the
    last extension (an id in brackets and the attacker's mail address in brackets)."""
    b = basename.lower()
    dot = b.rfind(".")
    if dot <= 0:
        return None
    ext = b[dot:]
    if ext in RANSOM_EXTENSIONS:
        return ext
    if "@" in b and "]." in b and "[" in b:
        return ext or ".?"
    return None
