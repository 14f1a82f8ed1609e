import pytest
from hypothesis import given
from hypothesis import strategies as st

from daraja_core.mobile_networks import ALLOCATION, Network, network_of, stk_push_reaches
from daraja_core.phones import InvalidPhone, NotMpesa, mpesa_msisdn, normalise_msisdn


@pytest.mark.parametrize(
    ("local", "network"),
    [
        ("0708374149", Network.SAFARICOM),
        ("0711000001", Network.SAFARICOM),
        ("0722000123", Network.SAFARICOM),
        ("0746123456", Network.SAFARICOM),
        ("0759123456", Network.SAFARICOM),
        ("0769123456", Network.SAFARICOM),
        ("0799123456", Network.SAFARICOM),
        ("0110156957", Network.SAFARICOM),
        ("0115123456", Network.SAFARICOM),
        ("0733123456", Network.AIRTEL),
        ("0756123456", Network.AIRTEL),
        ("0787123456", Network.AIRTEL),
        ("0100123456", Network.AIRTEL),
        ("0102123456", Network.AIRTEL),
        ("0771123456", Network.TELKOM),
        ("0763123456", Network.EQUITEL),
        ("0747123456", Network.FAIBA),
        ("0744123456", Network.UNKNOWN),
        ("0120123456", Network.UNKNOWN),
    ],
)
def test_each_prefix_is_answered_with_its_network(local: str, network: Network) -> None:
    assert network_of(normalise_msisdn(local)) is network


def test_only_safaricom_lines_are_reachable_by_stk_push() -> None:
    assert [n for n in Network if n.stk_push_reaches] == [Network.SAFARICOM]
    assert stk_push_reaches("254708374149")
    assert not stk_push_reaches("254733123456")
    assert not stk_push_reaches("254744123456")


def test_no_prefix_is_given_to_two_networks() -> None:
    listed = [prefix for prefixes in ALLOCATION.values() for prefix in prefixes]
    assert len(listed) == len(set(listed))
    # A two-digit prefix covers its three-digit ones, so none may be listed under both.
    short = {p for p in listed if len(p) == 2}
    assert not [p for p in listed if len(p) == 3 and p[:2] in short]


@pytest.mark.parametrize("text", ["0733123456", "0708374149", "", "2547081234567", "+254708374149"])
def test_text_that_is_not_a_normalised_msisdn_has_no_network(text: str) -> None:
    assert network_of(text) is Network.UNKNOWN
    assert not stk_push_reaches(text)


@given(st.from_regex(r"254[17]\d{8}", fullmatch=True))
def test_every_normalised_number_has_an_answer_and_only_safaricom_is_reachable(msisdn: str) -> None:
    network = network_of(msisdn)
    assert stk_push_reaches(msisdn) is (network is Network.SAFARICOM)


@pytest.mark.parametrize("raw", ["0708 374 149", "+254110156957", "711000001"])
def test_mpesa_msisdn_passes_safaricom_numbers_normalised(raw: str) -> None:
    assert mpesa_msisdn(raw) == normalise_msisdn(raw)


@pytest.mark.parametrize(
    ("raw", "network", "words"),
    [
        ("0733 123 456", Network.AIRTEL, "0733 numbers are Airtel lines"),
        ("0100123456", Network.AIRTEL, "0100 numbers are Airtel lines"),
        ("+254771123456", Network.TELKOM, "0771 numbers are Telkom lines"),
        ("0764123456", Network.EQUITEL, "0764 numbers are Equitel lines"),
        ("0744123456", Network.UNKNOWN, "0744 is not a Safaricom prefix"),
    ],
)
def test_mpesa_msisdn_refuses_other_networks_naming_the_prefix_only(
    raw: str, network: Network, words: str
) -> None:
    with pytest.raises(NotMpesa) as caught:
        mpesa_msisdn(raw)
    error = caught.value
    assert error.network is network
    assert error.msisdn == normalise_msisdn(raw)
    assert words in str(error)
    assert "STK Push reaches Safaricom M-Pesa lines only" in str(error)
    assert error.msisdn[-6:] not in str(error)  # safe to log: the subscriber digits stay out


def test_mpesa_msisdn_still_refuses_what_is_not_a_phone_number_as_invalid_phone() -> None:
    with pytest.raises(InvalidPhone) as caught:
        mpesa_msisdn("0208374149")
    assert not isinstance(caught.value, NotMpesa)
    assert isinstance(NotMpesa("254733123456", Network.AIRTEL), InvalidPhone)
