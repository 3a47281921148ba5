"""Suricata's content inspection unit tests, ported with their recursion counts.

Source: OISF/suricata src/tests/detect-engine-content-inspection.c
(`DetectEngineContentInspectionTest01`..`17`): each case is (buffer, rule options, match,
number of keyword evaluations Suricata's `ut_inspection_recursion_counter` reports). The
options are the payload list of `alert tcp any any -> any any (<options> sid:1;)`.
"""

from __future__ import annotations

import pytest

from detect.match.sigtext import parse
from tocsin.detect.match.inspect import compile_buffer

# rule prefixes and buffers the Suricata tests repeat
AB = 'content:"a"; content:"b"; distance:0; within:1; '
ABC = AB + 'content:"c"; distance:0; within:1; '
ABC_07 = 'content:"a"; content:"b"; within:1; distance:0; content:"c"; distance:0; within:1; '
CHAIN = 'content:"a"; content:"b"; distance:0; content:"c"; distance:0; '
JUMP = 'content:"abc"; byte_jump:2,0,relative,string,dec; content:"xyz"; within:3; '
EXTRACT = "byte_extract:1,0,data_size,string,relative; "
AT, NOT_AT = "isdataat:data_size,relative;", "isdataat:!data_size,relative;"
KLM = 'content:"XYZ"; content:"_klm_"; distance:0; content:"abcd"; distance:4; '
AX = 'content:"a"; content:!"x"; '
Y17 = 'content:"yYYYYYYYYYYYYYYYY"; distance:9; within:29; '
NOT1 = "isdataat:!1,relative;"
ABC10D, ABC10X, ABCD10X = b"abc" * 10 + b"d", b"abc" * 10 + b"x", b"abcd" * 10 + b"x"
XY = b"x" * 17 + b"y" + b"Y" * 16
KLM_BUF = b"XYZ_klm_1234abcd_XYZ_klm_5678abcd"
CAP = b"100000000abcdefghi"  # an extracted isdataat value of 100,000,000: no data

# (test, buffer, options, match, keyword evaluations)
CASES: list[tuple[str, bytes, str, bool, int]] = [
    # Test01: simple match with distance
    ("01", b"ab", 'content:"a"; content:"b";', True, 2),
    ("01", b"ab", 'content:"a"; content:"b"; distance:0; ', True, 2),
    ("01", b"ba", 'content:"a"; content:"b"; distance:0; ', False, 2),
    # Test02: simple match with pcre/R
    ("02", b"ab", 'content:"a"; pcre:"/b/";', True, 2),
    ("02", b"ab", 'content:"a"; pcre:"/b/R";', True, 2),
    ("02", b"ba", 'content:"a"; pcre:"/b/R";', False, 2),
    # Test03: simple recursion logic
    ("03", b"ababc", 'content:"a"; content:"b"; content:"c";', True, 3),
    ("03", b"ababc", 'content:"a"; content:"b"; content:"d";', False, 3),
    ("03", b"ababc", 'content:"a"; content:"b"; distance:0; content:"c"; distance:0;', True, 3),
    ("03", b"ababc", 'content:"a"; content:"b"; distance:0; content:"d"; distance:0;', False, 3),
    ("03", b"ababc", AB + 'content:"d"; distance:0; within:1;', False, 5),
    ("03", b"ababc", AB + 'content:"c"; distance:0; within:1;', True, 5),
    ("03", b"ababc", ABC + 'content:"bab";', True, 6),
    ("03", b"ababc", ABC + 'content:"no";', False, 6),
    ("03", b"ababc", AB + 'pcre:"/^c$/R";', True, 5),
    ("03", b"ababc", AB + 'pcre:"/^c$/R"; content:"bab";', True, 6),
    ("03", b"ababc", AB + 'pcre:"/^c$/R"; content:"no";', False, 6),
    # Test04: pcre recursion logic
    ("04", b"ababc", 'pcre:"/^a/"; pcre:"/^b/R"; pcre:"/c/R"; ', True, 3),
    ("04", b"ababc", 'pcre:"/a/"; pcre:"/^b/R"; pcre:"/^c/R"; ', True, 5),
    ("04", b"ababc", 'pcre:"/^a/"; pcre:"/^b/R"; pcre:"/d/R"; ', False, 3),
    ("04", b"ababc", 'pcre:"/^a/"; pcre:"/^b/R"; pcre:"/c/R"; pcre:"/d/"; ', False, 4),
    # Test05: multiple independent blocks
    ("05", b"ababc", AB + 'content:"b"; content:"c"; distance:0; within:1;', True, 5),
    # Test06: isdataat recursion logic
    ("06", b"ababc", ABC + NOT1, True, 5),
    ("06", b"ababc", ABC + "isdataat:1,relative;", False, 6),
    ("06", b"abcabc", ABC + "isdataat:10,relative;", False, 4),
    ("06", b"ababcabc", ABC + NOT1, True, 7),
    ("06", b"ababcabc", ABC + "isdataat:1,relative;", True, 6),
    ("06", b"abcXYZ", 'content:"abc"; content:"XYZ"; distance:0; within:3; ' + NOT1, True, 2),
    ("06", b"abcXYZ", 'content:"XYZ"; distance:3; within:3; ' + NOT1, True, 1),
    ("06", b"abcXYZ", 'content:"cXY"; distance:2; within:3; ' + NOT1, False, 1),
    ("06", XY, Y17 + NOT1, True, 1),
    # Test07: extreme recursion
    ("07", ABC10D, ABC_07 + 'content:"d";', True, 4),
    ("07", ABC10D, ABC_07 + 'content:"d"; within:1; distance:0; ', True, 31),
    ("07", ABC10X, ABC_07 + 'content:"d"; within:1; distance:0; ', False, 31),
    ("07", ABC10X, CHAIN + 'content:"d"; distance:0; ', False, 4),
    ("07", ABC10X, CHAIN + 'pcre:"/^d/R"; ', False, 13),
    ("07", ABC10X, CHAIN + NOT1, False, 3),
    ("07", ABCD10X, CHAIN + 'content:"d"; distance:0; content:"e"; distance:0; ', False, 5),
    ("07", ABCD10X, CHAIN + 'content:"d"; distance:0; pcre:"/^e/R"; ', False, 14),
    ("07", ABCD10X, CHAIN + 'content:"d"; distance:0; ' + NOT1, False, 4),
    ("07", ABC10D, ABC_07 + 'pcre:"/d/";', True, 4),
    ("07", ABC10D, ABC_07 + 'pcre:"/d/R";', True, 4),
    ("07", ABC10D, ABC_07 + 'pcre:"/^d/R";', True, 31),
    ("07", ABC10X, ABC_07 + 'pcre:"/d/";', False, 4),
    ("07", ABC10X, ABC_07 + 'pcre:"/d/R";', False, 31),
    ("07", ABC10X, ABC_07 + 'pcre:"/^d/R";', False, 31),
    # Test08: mix in negation
    ("08", b"ababc", 'content:"a"; content:"b"; content:!"d";', True, 3),
    ("08", b"ababc", 'content:"a"; content:"b"; content:!"c";', False, 3),
    ("08", b"ababc", AB + 'content:!"a"; distance:0; within:1;', True, 5),
    ("08", b"ababc", AB + 'content:!"a"; distance:0; ', True, 5),
    ("08", b"abcdefghy", AX + 'content:"c"; distance:0; within:2; ', True, 3),
    ("08", b"abcdefghx", AX + 'content:"c"; distance:0; within:2; ', False, 2),
    ("08", b"abcdefghy", AX + 'content:!"c"; distance:2; within:1; ', True, 3),
    ("08", b"aaabbbccc", 'content:"ccc"; endswith; content:!"bccc"; endswith; ', False, 2),
    ("08", b"aaabbbccc", 'content:"ccc"; endswith; content:!"accc"; endswith; ', True, 2),
    ("08", b"aaabbbccc", 'content:"ccc"; endswith; content:!"bccc"; endswith; depth:4; ', True, 2),
    ("08", b"aaabbbccc", 'content:"ccc"; endswith; content:!"bccc"; endswith; depth:9; ', False, 2),
    # Test09: mix in byte_jump
    ("09", b"abc03abcxyz", JUMP, True, 3),
    ("09", b"abc03abc03abcxyz", JUMP, True, 5),
    ("09", b"abc03abc03abcxyz", JUMP + NOT1, True, 5),
    ("09", b"abc03abc03abcxyz", JUMP + 'pcre:"/klm$/R";', False, 7),
    ("09", b"abc03abc03abcxyzklm", JUMP + 'pcre:"/klm$/R";', True, 6),
    ("09", b"abc03abc03abcxyzklx", JUMP + 'pcre:"/^klm$/R";', False, 7),
    ("09", b"abc03abc03abc03abcxyzklm", JUMP + 'pcre:"/^klm$/R";', True, 8),
    # Test10: mix in byte_extract
    ("10", b"9abcdefghi", "byte_extract:1,0,data_size,string; isdataat:data_size;", True, 2),
    ("10", b"9abcdefgh", "byte_extract:1,0,data_size,string; isdataat:!data_size;", True, 2),
    ("10", b"x9x9abcdefghi", 'content:"x"; ' + EXTRACT + AT, True, 3),
    ("10", b"x9x9abcdefgh", 'content:"x"; ' + EXTRACT + NOT_AT, True, 5),
    ("10", b"x9x9abcdefgh", 'content:"x"; depth:1; ' + EXTRACT + NOT_AT, False, 3),
    ("10", b"x9x5abcdef", 'content:"x"; ' + EXTRACT + AT, True, 5),
    ("10", CAP, "byte_extract:0,0,data_size,string; isdataat:data_size;", False, 2),
    ("10", CAP, "byte_extract:0,0,data_size,string; isdataat:!data_size;", True, 2),
    # Test11: startswith
    ("11", b"ab", 'content:"a"; startswith; content:"b";', True, 2),
    ("11", b"ab", 'content:"a"; startswith; content:"b"; within:1; distance:0;', True, 2),
    ("11", b"ab", 'content:"ab"; startswith;', True, 1),
    ("11", b"ab", 'content:"a"; startswith;', True, 1),
    ("11", b"ab", 'content:"b"; startswith;', False, 1),
    # Test12: endswith (isdataat) recursion logic
    ("12", b"ababc", ABC + "endswith;", True, 5),
    ("12", b"ababcabc", ABC + "endswith;", True, 7),
    ("12", b"abcXYZ", 'content:"abc"; content:"XYZ"; distance:0; within:3; endswith;', True, 2),
    ("12", b"abcXYZ", 'content:"XYZ"; distance:3; within:3; endswith;', True, 1),
    ("12", b"abcXYZ", 'content:"cXY"; distance:2; within:3; endswith;', False, 1),
    ("12", b"abcXYZ", 'content:!"cXY"; endswith;', True, 1),
    ("12", b"abcXYZ", 'content:!"XYZ"; endswith;', False, 1),
    ("12", XY, Y17 + "endswith;", True, 1),
    # Test13: mix startswith/endswith
    ("13", b"ab", 'content:"a"; startswith; content:"b"; endswith;', True, 2),
    ("13", b"ab", 'content:"a"; startswith; content:"b"; within:1; distance:0; endswith;', True, 2),
    ("13", b"ab", 'content:"ab"; startswith; endswith;', True, 1),
    ("13", b"ab", 'content:"a"; startswith; endswith;', False, 1),
    ("13", b"ab", 'content:"b"; startswith;', False, 1),
    ("13", b"ab", 'content:"b"; startswith; endswith;', False, 1),
    # Test14: byte_test negative offset
    ("14", KLM_BUF, KLM + "byte_test:4,=,1234,-8,relative,string;", True, 4),
    ("14", KLM_BUF, KLM + "byte_test:4,=,5678,-8,relative,string;", True, 5),
    # Test17: negative distance
    (
        "17",
        b"aaabbbcccdddee",
        'content:"aaa"; content:"ee"; within:2; distance:9; content:"bbb"; within:3; '
        'distance:-11; content:"ccc"; within:3; distance:0;',
        True,
        4,
    ),
]


@pytest.mark.parametrize(("test", "buf", "sig", "match", "steps"), CASES)
def test_content_inspection(test: str, buf: bytes, sig: str, match: bool, steps: int) -> None:
    got = compile_buffer(parse(sig)).inspect_steps(buf)
    assert got == (match, steps), f"DetectEngineContentInspectionTest{test}: {sig}"
