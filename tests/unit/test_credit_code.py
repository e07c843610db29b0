"""统一社会信用代码 check characters (GB 32100-2015), against codes of real companies."""
from __future__ import annotations

import pytest

from ledger.rules.credit_code import InvalidCreditCode, check_character, validate

#: published on the companies' business licences (国家企业信用信息公示系统)
REAL = [
    "914403001922038216",  # 华为技术有限公司
    "9144030071526726XG",  # 腾讯科技（深圳）有限公司
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91350100M000100Y43",  # the standard's own example
]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_valid(code):
    assert validate(code) == code
    assert check_character(code[:17]) == code[17]


def test_lower_case_and_spaces_are_normalised():
    assert validate(" 9144030071526726xg ") == "9144030071526726XG"


@pytest.mark.parametrize("code", REAL)
def test_one_character_off_is_invalid(code):
    """Changing any one character of the first 17 changes the check character (weights are units mod 31)."""
    for position in range(17):
        original = code[position]
        replacement = "1" if original != "1" else "2"
        altered = code[:position] + replacement + code[position + 1 :]
        with pytest.raises(InvalidCreditCode):
            validate(altered)


@pytest.mark.parametrize(
    "code, message",
    [
        ("91440300192203821", "has 18 characters"),
        ("914403001922038217", "the check character is 6, not 7"),
        ("91440300192203821I", "outside the code's alphabet: I"),
        ("9144O3001922038216", "outside the code's alphabet: O"),
        ("91A403001922038216", "administrative division code"),
    ],
)
def test_invalid_codes_say_why(code, message):
    with pytest.raises(InvalidCreditCode, match=message):
        validate(code)
