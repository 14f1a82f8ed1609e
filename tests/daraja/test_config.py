import pytest

from pos_app.daraja import BUY_GOODS, DarajaConfig, DarajaConfigError

from .fake_daraja import CONSUMER_SECRET, PASSKEY, make_config

ENV = {
    "MPESA_CONSUMER_KEY": " key ",
    "MPESA_CONSUMER_SECRET": "secret",
    "MPESA_SHORTCODE": "5123456",
    "MPESA_PASSKEY": "pass",
}


def test_environment_picks_the_safaricom_host() -> None:
    assert make_config().base_url == "https://sandbox.safaricom.co.ke"
    assert make_config(environment="production").base_url == "https://api.safaricom.co.ke"


def test_base_url_override_wins_without_stray_whitespace_or_slash() -> None:
    config = make_config(environment="production", base_url_override=" http://127.0.0.1:8999/ \n")
    assert config.base_url == "http://127.0.0.1:8999"


def test_from_env_reads_every_variable() -> None:
    config = DarajaConfig.from_env(
        {
            **ENV,
            "MPESA_ENVIRONMENT": "Production",
            "MPESA_TRANSACTION_TYPE": BUY_GOODS,
            "MPESA_TILL_NUMBER": " 8123456 ",
            "MPESA_API_BASE_URL": "http://127.0.0.1:9000",
            "MPESA_MAX_AMOUNT_KES": "150000",
        }
    )
    assert config == DarajaConfig(
        consumer_key="key",
        consumer_secret="secret",
        shortcode="5123456",
        passkey="pass",
        transaction_type=BUY_GOODS,
        till_number="8123456",
        environment="production",
        base_url_override="http://127.0.0.1:9000",
        max_amount_kes=150_000,
    )
    assert config.party_b == "8123456"


def test_from_env_defaults_to_sandbox_pay_bill() -> None:
    config = DarajaConfig.from_env(ENV)
    assert (config.environment, config.transaction_type, config.party_b) == (
        "sandbox",
        "CustomerPayBillOnline",
        "5123456",
    )
    assert config.max_amount_kes == 250_000


def test_from_env_names_every_missing_variable() -> None:
    with pytest.raises(DarajaConfigError) as caught:
        DarajaConfig.from_env({"MPESA_CONSUMER_KEY": "k", "MPESA_PASSKEY": "  "})
    assert str(caught.value) == "Missing setting(s): MPESA_CONSUMER_SECRET, MPESA_SHORTCODE, MPESA_PASSKEY"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"MPESA_ENVIRONMENT": "staging"}, "MPESA_ENVIRONMENT"),
        ({"MPESA_TRANSACTION_TYPE": "BuyGoods"}, "MPESA_TRANSACTION_TYPE"),
        ({"MPESA_MAX_AMOUNT_KES": "1e5"}, "MPESA_MAX_AMOUNT_KES"),
        ({"MPESA_MAX_AMOUNT_KES": "0"}, "MPESA_MAX_AMOUNT_KES"),
    ],
)
def test_wrong_values_name_the_variable(extra: dict[str, str], words: str) -> None:
    with pytest.raises(DarajaConfigError, match=words):
        DarajaConfig.from_env({**ENV, **extra})


def test_buy_goods_without_till_number_has_no_party_b() -> None:
    assert make_config(transaction_type=BUY_GOODS).party_b is None


def test_repr_never_shows_secrets() -> None:
    text = repr(make_config())
    assert CONSUMER_SECRET not in text and PASSKEY not in text and "174379" in text
