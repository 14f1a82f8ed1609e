import pytest

from daraja_core.phones import InvalidPhone, format_local, format_local_masked, mask_msisdn, normalise_msisdn


@pytest.mark.parametrize(
    "raw",
    [
        "0708374149",
        "0708 374 149",
        "0708-374-149",
        "+254708374149",
        "+254 708 374 149",
        "254708374149",
        "708374149",
        " 0708374149 ",
    ],
)
def test_safaricom_numbers_in_every_common_form_normalise_to_12_digits(raw: str) -> None:
    assert normalise_msisdn(raw) == "254708374149"


def test_a_number_the_relay_masked_already_reads_as_a_local_number() -> None:
    assert format_local_masked("2547*****149") == "07** *** 149"  # a C2B payer (docs/daraja.md §6)


def test_new_01_prefix_normalises_to_2541() -> None:
    assert normalise_msisdn("0110 156 957") == "254110156957"
    assert normalise_msisdn("+254110156957") == "254110156957"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "Enter"),
        ("0708abc149", "digits only"),
        ("070837414", "too short"),
        ("07083741499", "too long"),
        ("0208374149", "not a mobile number"),
        ("+255708374149", "Kenyan"),
        ("44708374149", "Start the number"),
    ],
)
def test_bad_numbers_are_refused_with_a_message_naming_the_problem(raw: str, words: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_msisdn(raw)
    assert words in str(caught.value)


def test_masking_hides_the_middle_digits_for_logs_and_screens() -> None:
    assert mask_msisdn("254708374149") == "2547*****149"
    assert mask_msisdn(254708374149) == "2547*****149"
    assert "374" not in mask_msisdn("254708374149")
    assert format_local("254708374149") == "0708 374 149"
    assert format_local_masked("254708374149") == "0708 *** 149"


@pytest.mark.parametrize(
    "raw",
    [
        "07²³¹²³¹²³",  # superscripts: str.isdigit() says yes
        "07０８３７４１４９",  # fullwidth
        "07٠٨٣٧٤١٤٩",  # Arabic-Indic
        "-254708374149",  # a negative number
        " -0708374149",
        ".0708374149",
    ],
)
def test_only_ascii_digits_make_a_phone_number(raw: str) -> None:
    with pytest.raises(InvalidPhone, match="digits only"):
        normalise_msisdn(raw)
